-- compiled from derived_from.yaml; refresh with: go test ./queries -update
SELECT `u`.`name`, `pu`.`posts` FROM (SELECT `r`.`user_id`, COUNT(`r`.`id`) AS `posts` FROM (SELECT `p`.`id`, `p`.`user_id` FROM `posts` AS `p` WHERE (`p`.`published_at` >= ?)) AS `r` GROUP BY `r`.`user_id`) AS `pu` INNER JOIN `users` AS `u` ON (`u`.`id` = `pu`.`user_id`) WHERE (`pu`.`posts` >= ?)
-- columns: name, posts
-- args:
-- 1: string "2026-01-01" (param since)
-- 2: int64 2 (param min_posts)
