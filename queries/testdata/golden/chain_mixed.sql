-- compiled from chain_mixed.yaml; refresh with: go test ./queries -update
SELECT `u`.`name`, `p`.`title`, `c`.`body`, `k`.`name` AS `category`, (`p`.`category_id` IS NOT NULL) AS `_joinery_0_matched`, 0 AS `_joinery_0_left_unmatched`, (`p`.`category_id` IS NULL) AS `_joinery_0_right_unmatched` FROM `users` AS `u` INNER JOIN `posts` AS `p` ON ((`u`.`id` = `p`.`user_id`) AND (`p`.`published_at` >= `u`.`created_at`) AND (`p`.`status` = ?)) LEFT JOIN `comments` AS `c` ON ((`c`.`post_id` = `p`.`id`) AND (`c`.`user_id` != `u`.`id`)) RIGHT JOIN `categories` AS `k` ON (`k`.`id` = `p`.`category_id`)
-- columns: name, title, body, category
-- args:
-- 1: string "published"
-- diagnostics 0: right join k, key p.category_id
