-- compiled from left_join.yaml; refresh with: go test ./queries -update
SELECT `u`.`id` AS `user_id`, `u`.`email`, `p`.`id` AS `post_id` FROM `users` AS `u` LEFT JOIN `posts` AS `p` ON (`p`.`user_id` = `u`.`id`) WHERE (`p`.`id` IS NULL) ORDER BY `u`.`email` DESC
-- columns: user_id, email, post_id
-- args:
