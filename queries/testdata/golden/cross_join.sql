-- compiled from cross_join.yaml; refresh with: go test ./queries -update
SELECT `users`.`name`, `c`.`name` AS `color` FROM `users` CROSS JOIN `colors` AS `c` LIMIT ?
-- columns: name, color
-- args:
-- 1: int64 100
