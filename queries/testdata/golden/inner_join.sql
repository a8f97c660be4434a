-- compiled from inner_join.yaml; refresh with: go test ./queries -update
SELECT `u`.`id`, `u`.`name` AS `user_name`, `p`.`title` FROM `users` AS `u` INNER JOIN `posts` AS `p` ON ((`u`.`id` = `p`.`user_id`) AND (`p`.`created_at` >= `u`.`created_at`)) WHERE (`p`.`published` = ?) ORDER BY `u`.`id` DESC, `p`.`title` ASC
-- columns: id, user_name, title
-- args:
-- 1: int64 1
