-- compiled from using.yaml; refresh with: go test ./queries -update
SELECT `p`.`id`, `p`.`user_id`, `s`.`posts`, (`s`.`user_id` IS NOT NULL) AS `_joinery_0_matched`, (`s`.`user_id` IS NULL) AS `_joinery_0_left_unmatched`, 0 AS `_joinery_0_right_unmatched` FROM `posts` AS `p` LEFT JOIN (SELECT `p`.`user_id`, COUNT(*) AS `posts` FROM `posts` AS `p` GROUP BY `p`.`user_id`) AS `s` USING (`user_id`)
-- columns: id, user_id, posts
-- args:
-- diagnostics 0: left join s, key s.user_id
