-- compiled from full_join_order_limit.yaml; refresh with: go test ./queries -update
SELECT * FROM (SELECT `u`.`name`, `t`.`name` AS `team`, `p`.`title`, `c`.`body` FROM `users` AS `u` INNER JOIN `teams` AS `t` ON (`t`.`id` = `u`.`team_id`) LEFT JOIN `posts` AS `p` ON ((`p`.`author_id` = `t`.`user_id`) AND (`p`.`score` > `u`.`min_score`)) LEFT JOIN `comments` AS `c` ON (`c`.`post_id` = `p`.`id`) WHERE ((`c`.`body` IS NOT NULL) AND (`p`.`score` BETWEEN ? AND ?)) UNION ALL (SELECT `u`.`name`, `t`.`name` AS `team`, `p`.`title`, `c`.`body` FROM `users` AS `u` INNER JOIN `teams` AS `t` ON (`t`.`id` = `u`.`team_id`) RIGHT JOIN `posts` AS `p` ON ((`p`.`author_id` = `t`.`user_id`) AND (`p`.`score` > `u`.`min_score`)) LEFT JOIN `comments` AS `c` ON (`c`.`post_id` = `p`.`id`) WHERE ((`c`.`body` IS NOT NULL) AND (`p`.`score` BETWEEN ? AND ?) AND (`t`.`user_id` IS NULL)))) AS `full_rows` ORDER BY `name` DESC, `team` ASC, `title` ASC LIMIT ?
-- columns: name, team, title, body
-- args:
-- 1: int64 1
-- 2: int64 9
-- 3: int64 1
-- 4: int64 9
-- 5: int64 50
