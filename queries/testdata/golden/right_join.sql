-- compiled from right_join.yaml; refresh with: go test ./queries -update
SELECT `p`.`id`, `p`.`title`, `u`.`name` FROM `users` AS `u` RIGHT JOIN `posts` AS `p` ON (`u`.`id` = `p`.`user_id`) WHERE ((`p`.`title` NOT LIKE ?) AND (`p`.`score` >= ?)) ORDER BY `p`.`id` ASC
-- columns: id, title, name
-- args:
-- 1: string "draft%"
-- 2: float64 2.5
