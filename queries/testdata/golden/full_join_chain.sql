-- compiled from full_join_chain.yaml; refresh with: go test ./queries -update
SELECT * FROM (SELECT `k`.`name` AS `category`, `u`.`id` AS `user_id`, `p`.`id` AS `post_id`, `c`.`id` AS `comment_id`, (`p`.`user_id` IS NOT NULL) AS `_joinery_0_matched`, (`p`.`user_id` IS NULL) AS `_joinery_0_left_unmatched`, 0 AS `_joinery_0_right_unmatched`, (`c`.`post_id` IS NOT NULL) AS `_joinery_1_matched`, (`c`.`post_id` IS NULL) AS `_joinery_1_left_unmatched`, 0 AS `_joinery_1_right_unmatched` FROM `categories` AS `k` INNER JOIN `users` AS `u` ON (`u`.`favourite_category_id` = `k`.`id`) LEFT JOIN `posts` AS `p` ON (`p`.`user_id` = `u`.`id`) LEFT JOIN `comments` AS `c` ON (`c`.`post_id` = `p`.`id`) WHERE (`p`.`status` != ?) UNION ALL (SELECT `k`.`name` AS `category`, `u`.`id` AS `user_id`, `p`.`id` AS `post_id`, `c`.`id` AS `comment_id`, 0 AS `_joinery_0_matched`, 0 AS `_joinery_0_left_unmatched`, 1 AS `_joinery_0_right_unmatched`, (`c`.`post_id` IS NOT NULL) AS `_joinery_1_matched`, (`c`.`post_id` IS NULL) AS `_joinery_1_left_unmatched`, 0 AS `_joinery_1_right_unmatched` FROM `categories` AS `k` INNER JOIN `users` AS `u` ON (`u`.`favourite_category_id` = `k`.`id`) RIGHT JOIN `posts` AS `p` ON (`p`.`user_id` = `u`.`id`) LEFT JOIN `comments` AS `c` ON (`c`.`post_id` = `p`.`id`) WHERE ((`p`.`status` != ?) AND (`u`.`id` IS NULL)))) AS `full_rows` ORDER BY `user_id` ASC, `post_id` DESC LIMIT ?
-- columns: category, user_id, post_id, comment_id
-- args:
-- 1: string "draft"
-- 2: string "draft"
-- 3: int64 50
-- diagnostics 0: full join p, key p.user_id
-- diagnostics 1: left join c, key c.post_id
