-- compiled from full_join.yaml; refresh with: go test ./queries -update
SELECT `u`.`id` AS `user_id`, `u`.`name`, `p`.`id` AS `post_id`, `p`.`title` FROM `users` AS `u` LEFT JOIN `posts` AS `p` ON (`u`.`id` = `p`.`user_id`) WHERE ((`p`.`title` LIKE ?) AND (`u`.`id` NOT IN (?, ?))) UNION ALL (SELECT `u`.`id` AS `user_id`, `u`.`name`, `p`.`id` AS `post_id`, `p`.`title` FROM `users` AS `u` RIGHT JOIN `posts` AS `p` ON (`u`.`id` = `p`.`user_id`) WHERE ((`p`.`title` LIKE ?) AND (`u`.`id` NOT IN (?, ?)) AND (`u`.`id` IS NULL)))
-- columns: user_id, name, post_id, title
-- args:
-- 1: string "a%"
-- 2: int64 7
-- 3: int64 8
-- 4: string "a%"
-- 5: int64 7
-- 6: int64 8
