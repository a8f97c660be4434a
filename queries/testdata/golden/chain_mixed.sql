-- compiled from chain_mixed.yaml; refresh with: go test ./queries -update
SELECT `u`.`name`, `p`.`title`, `c`.`body`, `k`.`name` AS `category`, ((`p`.`id` IS NOT NULL) AND (`c`.`post_id` IS NOT NULL)) AS `_joinery_0_matched`, ((`p`.`id` IS NOT NULL) AND (`c`.`post_id` IS NULL)) AS `_joinery_0_left_unmatched`, ((`p`.`id` IS NULL) AND (`c`.`post_id` IS NOT NULL)) AS `_joinery_0_right_unmatched`, ((`p`.`category_id` IS NOT NULL) AND (`k`.`id` IS NOT NULL)) AS `_joinery_1_matched`, ((`p`.`category_id` IS NOT NULL) AND (`k`.`id` IS NULL)) AS `_joinery_1_left_unmatched`, ((`p`.`category_id` IS NULL) AND (`k`.`id` IS NOT NULL)) AS `_joinery_1_right_unmatched` FROM `users` AS `u` INNER JOIN `posts` AS `p` ON ((`u`.`id` = `p`.`user_id`) AND (`p`.`published_at` >= `u`.`created_at`) AND (`p`.`status` = ?)) LEFT JOIN `comments` AS `c` ON ((`c`.`post_id` = `p`.`id`) AND (`c`.`user_id` != `u`.`id`)) RIGHT JOIN `categories` AS `k` ON (`k`.`id` = `p`.`category_id`)
-- columns: name, title, body, category
-- args:
-- 1: string "published"
-- diagnostics 0: left join c, left key "p.id", right key "c.post_id"
-- diagnostics 1: right join k, left key "p.category_id", right key "k.id"
