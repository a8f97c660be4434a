-- compiled from on_values.yaml; refresh with: go test ./queries -update
SELECT `u`.`id`, `p`.`id` AS `post_id` FROM `users` AS `u` LEFT JOIN `posts` AS `p` ON ((`u`.`id` = `p`.`user_id`) AND (`p`.`views` >= ?) AND (`p`.`status` = ?) AND (DATE(`p`.`published_at`) != DATE(`u`.`created_at`)) AND (`p`.`featured` = ?))
-- columns: id, post_id
-- args:
-- 1: int64 10 (param min_views)
-- 2: string "published" (param status)
-- 3: int64 1
