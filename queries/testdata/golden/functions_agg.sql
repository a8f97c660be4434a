-- compiled from functions_agg.yaml; refresh with: go test ./queries -update
SELECT `o`.`customer_id`, GROUP_CONCAT(`i`.`product_id`) AS `products`, GROUP_CONCAT(DISTINCT `i`.`product_id` ORDER BY `i`.`product_id` DESC, `i`.`qty` ASC SEPARATOR X'3B20') AS `sorted`, GROUP_CONCAT(`i`.`qty`, ?, `i`.`product_id` SEPARATOR X'') AS `glued`, GROUP_CONCAT(`o`.`status` SEPARATOR X'69742773') AS `quoted`, STDDEV(`i`.`qty`) AS `sd`, VARIANCE((`i`.`qty` * `i`.`unit_price`)) AS `var`, STDDEV(`i`.`qty`) AS `stddev_qty` FROM `orders` AS `o` INNER JOIN `order_items` AS `i` ON (`i`.`order_id` = `o`.`id`) GROUP BY `o`.`customer_id`
-- columns: customer_id, products, sorted, glued, quoted, sd, var, stddev_qty
-- args:
-- 1: string "x"
