-- compiled from multi_join.yaml; refresh with: go test ./queries -update
SELECT `u`.`name`, `p`.`title`, `c`.`body` FROM `users` AS `u` INNER JOIN `posts` AS `p` ON ((`u`.`id` = `p`.`user_id`) AND (`p`.`score` != `u`.`min_score`) AND (`p`.`score` != `u`.`max_score`) AND (`p`.`created_at` > `u`.`created_at`)) LEFT JOIN `comments` AS `c` ON ((`c`.`post_id` = `p`.`id`) AND (`c`.`created_at` >= `p`.`created_at`) AND (`c`.`created_at` < `u`.`deleted_at`) AND (`c`.`score` <= `p`.`score`))
-- columns: name, title, body
-- args:
