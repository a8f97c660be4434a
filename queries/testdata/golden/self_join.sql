-- compiled from self_join.yaml; refresh with: go test ./queries -update
SELECT `u`.`name`, `r`.`name` AS `referred_by`, `p1`.`id` AS `post_id`, COUNT(`p2`.`id`) AS `later_posts` FROM `users` AS `u` LEFT JOIN `users` AS `r` ON (`r`.`id` = `u`.`referrer_id`) INNER JOIN `posts` AS `p1` ON (`p1`.`user_id` = `u`.`id`) LEFT JOIN `posts` AS `p2` ON ((`p2`.`user_id` = `p1`.`user_id`) AND (`p2`.`published_at` > `p1`.`published_at`)) GROUP BY `u`.`name`, `r`.`name`, `p1`.`id`
-- columns: name, referred_by, post_id, later_posts
-- args:
