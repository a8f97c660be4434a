-- compiled from diagnostics_grouped.yaml; refresh with: go test ./queries -update
SELECT `u`.`id`, COUNT(`p`.`id`) AS `posts`, COUNT(`c`.`id`) AS `comments`, SUM((`p`.`user_id` IS NOT NULL)) AS `_joinery_0_matched`, SUM((`p`.`user_id` IS NULL)) AS `_joinery_0_left_unmatched`, SUM(0) AS `_joinery_0_right_unmatched`, SUM((`c`.`post_id` IS NOT NULL)) AS `_joinery_1_matched`, SUM((`c`.`post_id` IS NULL)) AS `_joinery_1_left_unmatched`, SUM(0) AS `_joinery_1_right_unmatched` FROM `users` AS `u` LEFT JOIN `posts` AS `p` ON (`u`.`id` = `p`.`user_id`) LEFT JOIN `comments` AS `c` ON (`c`.`post_id` = `p`.`id`) GROUP BY `u`.`id`
-- columns: id, posts, comments
-- args:
-- diagnostics 0: left join p, key p.user_id
-- diagnostics 1: left join c, key c.post_id
