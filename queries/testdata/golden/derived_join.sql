-- compiled from derived_join.yaml; refresh with: go test ./queries -update
SELECT `u`.`id`, `u`.`name`, `s`.`posts`, `lp`.`title` AS `latest_title`, (`s`.`user_id` IS NOT NULL) AS `_joinery_0_matched`, (`s`.`user_id` IS NULL) AS `_joinery_0_left_unmatched`, 0 AS `_joinery_0_right_unmatched`, (`lp`.`user_id` IS NOT NULL) AS `_joinery_1_matched`, (`lp`.`user_id` IS NULL) AS `_joinery_1_left_unmatched`, 0 AS `_joinery_1_right_unmatched` FROM `users` AS `u` LEFT JOIN (SELECT `p`.`user_id`, COUNT(*) AS `posts`, MAX(`p`.`published_at`) AS `latest` FROM `posts` AS `p` WHERE (`p`.`status` = ?) GROUP BY `p`.`user_id`) AS `s` ON (`s`.`user_id` = `u`.`id`) LEFT JOIN `posts` AS `lp` ON ((`lp`.`user_id` = `s`.`user_id`) AND (`lp`.`published_at` = `s`.`latest`)) WHERE (`u`.`id` > ?) ORDER BY COALESCE(`s`.`posts`, ?) DESC, `u`.`id` ASC
-- columns: id, name, posts, latest_title
-- args:
-- 1: string "published"
-- 2: int64 0
-- 3: int64 0
-- diagnostics 0: left join s, key s.user_id
-- diagnostics 1: left join lp, key lp.user_id
