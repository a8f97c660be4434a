package queries

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/joinery/joinery/internal/testdb"
)

// seedShop creates a small shop: customers, categories, products, orders
// and their items, with the awkward cases issue 14's reports meet: an item
// of quantity 0 (a division by zero), NULL discounts, prices and
// categories, an order without items, a customer without orders, names
// with spaces and quotes.
func seedShop(t *testing.T) *sql.DB {
	t.Helper()
	db := testdb.New(t)
	testdb.Exec(t, db,
		"CREATE TABLE customers (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NULL, country CHAR(2) NULL, created_at DATETIME NOT NULL)",
		"CREATE TABLE categories (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)",
		"CREATE TABLE products (id INT NOT NULL PRIMARY KEY, category_id INT NULL, name VARCHAR(50) NOT NULL, sku VARCHAR(20) NOT NULL)",
		"CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer_id INT NULL, ordered_at DATETIME NOT NULL, shipped_at DATETIME NULL,"+
			" status VARCHAR(20) NOT NULL, ship_mode VARCHAR(20) NULL, shipping DECIMAL(8,2) NULL)",
		"CREATE TABLE order_items (order_id INT NOT NULL, product_id INT NOT NULL, qty INT NOT NULL, unit_price DECIMAL(10,2) NULL, discount DECIMAL(4,3) NULL)",
		"INSERT INTO customers VALUES (1, 'Alice', 'DE', '2025-12-01 10:00:00'), (2, ' Bob ', 'FR', '2026-01-05 08:00:00'),"+
			" (3, NULL, NULL, '2026-01-20 00:00:00'), (4, 'O''Hara', 'US', '2026-02-01 12:00:00')",
		"INSERT INTO categories VALUES (1, 'Books'), (2, 'Games'), (3, 'Food')",
		"INSERT INTO products VALUES (10, 1, 'Go in Action', 'BK-001'), (11, 1, 'SQL Cookbook', 'BK-002'), (20, 2, 'Chess', 'GM-001'),"+
			" (21, 2, 'Go (board game)', 'GM-002'), (30, 3, 'Tea', 'FD-001'), (40, NULL, 'Mystery box', 'XX-001')",
		"INSERT INTO orders VALUES"+
			" (100, 1, '2026-01-03 09:15:00', '2026-01-05 10:00:00', 'shipped', 'AIR', 4.90),"+
			" (101, 1, '2026-01-31 23:00:00', NULL, 'open', 'MAIL', NULL),"+
			" (102, 2, '2026-02-14 12:00:00', '2026-02-20 08:30:00', 'shipped', 'TRUCK', 12.00),"+
			" (103, 3, '2026-03-01 00:00:00', '2026-03-01 18:00:00', 'shipped', NULL, 0.00),"+
			" (104, NULL, '2026-03-15 15:45:00', NULL, 'cancelled', 'AIR', 2.50),"+
			" (105, 2, '2026-04-01 08:00:00', NULL, 'open', 'MAIL', 3.33)",
		"INSERT INTO order_items VALUES"+
			" (100, 10, 2, 35.50, 0.100), (100, 30, 3, 4.99, NULL), (101, 20, 1, 19.99, 0.000),"+
			" (102, 11, 1, 42.00, 0.250), (102, 21, 0, 15.00, 0.050), (102, 40, 5, NULL, NULL),"+
			" (103, 30, 10, 4.99, 0.125), (104, 20, 2, 19.99, 0.333), (104, 10, 1, 35.50, 0.000)",
	)
	return db
}

// columnTypes runs query and returns each result column's type as
// "DECIMAL(p,s)" or its database type name.
func columnTypes(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, done := openRows(t, db, query, args...)
	defer done()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(cts))
	for i, ct := range cts {
		out[i] = ct.DatabaseTypeName()
		if p, s, ok := ct.DecimalSize(); ok && out[i] == "DECIMAL" {
			out[i] = fmt.Sprintf("DECIMAL(%d,%d)", p, s)
		}
	}
	for rows.Next() {
	}
	return out
}

// TestIntegrationDecimalLiterals shows that a decimal literal keeps
// MySQL's exact arithmetic: 100.00 * sum(x) compiled and bound gives the
// values and the column type of the hand-written 100.00 * SUM(x), and that
// neither of the bindings the driver offers for the value alone would: a
// string (the binary protocol's MYSQL_TYPE_STRING) and a float64
// (MYSQL_TYPE_DOUBLE) both make the product a DOUBLE.
func TestIntegrationDecimalLiterals(t *testing.T) {
	db := seedShop(t)
	d := parseDataset(t, "shares", `
from: order_items i
select:
  - i.order_id
  - "100.00 * sum(i.unit_price) AS pct"
  - "sum(i.qty * i.unit_price * (1 - i.discount)) AS net"
  - "0.1 + 0.2 AS tenth"
  - "-1.5 * sum(i.qty) AS neg"
  - "12345678901234567890.5 - 1 AS big"
  - "sum(i.unit_price) / 3 AS third"
group_by: [i.order_id]`)
	q, err := Compile(&d, Env{})
	if err != nil {
		t.Fatal(err)
	}
	hand := "SELECT i.order_id, 100.00 * SUM(i.unit_price), SUM(i.qty * i.unit_price * (1 - i.discount)), 0.1 + 0.2, -1.5 * SUM(i.qty)," +
		" 12345678901234567890.5 - 1, SUM(i.unit_price) / 3 FROM order_items i GROUP BY i.order_id"
	got, want := queryRows(t, db, q.SQL, q.Args...), queryRows(t, db, hand)
	sameMultiset(t, "compiled vs hand-written", got, want)
	if !slices.Contains(got, "100 | 4049.0000 | 63.90000 | 0.3 | -7.5 | 12345678901234567889.5 | 13.496667") {
		t.Errorf("order 100's row is not exact: %q", got)
	}
	// The types are the same but for the precision of net: the 1 of
	// (1 - i.discount) is bound as an int64, a BIGINT parameter of 20
	// digits where the hand-written literal has 1, and the precision of a
	// product adds them up. Scales, and so the values, are the same.
	g, w := columnTypes(t, db, q.SQL, q.Args...), columnTypes(t, db, hand)
	if g[1] != "DECIMAL(37,4)" || g[1] != w[1] {
		t.Errorf("100.00 * sum(x): got %s, want %s and DECIMAL(37,4)", g[1], w[1])
	}
	scales := func(types []string) []string {
		out := make([]string, len(types))
		for i, typ := range types {
			if _, scale, ok := strings.Cut(typ, ","); ok {
				typ = "DECIMAL(_," + scale
			}
			out[i] = typ
		}
		return out
	}
	if !slices.Equal(scales(g), scales(w)) {
		t.Errorf("column types: got %v, want %v", g, w)
	}
	for _, v := range []any{"100.00", 100.0} {
		types := columnTypes(t, db, "SELECT ? * SUM(i.unit_price) FROM order_items i", v)
		if types[0] != "DOUBLE" {
			t.Errorf("? * SUM(unit_price) with %T bound: %s; the reason for CAST(? AS DECIMAL(p,s)) is gone", v, types[0])
		}
	}
}

// TestIntegrationArithmetic compares arithmetic in every place an
// expression goes with hand-written SQL.
func TestIntegrationArithmetic(t *testing.T) {
	db := seedShop(t)
	env := Env{Params: map[string]any{"rate": "0.19", "min": int64(2)}}
	runExprCases(t, db, env, []exprCase{
		{"line totals, precedence and division by zero", `
from: order_items i
select:
  - i.order_id
  - i.product_id
  - "i.qty * i.unit_price AS line"
  - "i.qty * i.unit_price * (1 - i.discount) AS net"
  - "2 + 3 * i.qty - 4 / 2 AS prec"
  - "-i.qty * 2 - -3 AS neg"
  - "i.unit_price / i.qty AS per_unit"
  - "i.qty div 2 AS halves"
  - "i.qty % 2 + i.qty mod 3 AS rests"
  - "(i.qty + 1) * (i.qty - 1) AS grouped"
  - "i.unit_price * :rate AS tax"`,
			"SELECT order_id, product_id, qty * unit_price, qty * unit_price * (1 - discount), 2 + 3 * qty - 4 / 2, -qty * 2 - -3, unit_price / qty," +
				" qty DIV 2, qty % 2 + qty MOD 3, (qty + 1) * (qty - 1), unit_price * '0.19' FROM order_items", false, 9},
		{"revenue per customer with discount arithmetic", `
from: customers c
joins:
  - {table: orders, as: o, on: "o.customer_id = c.id"}
  - {table: order_items, as: i, on: ["i.order_id = o.id", "i.qty * i.unit_price > 1.00"]}
select:
  - c.id
  - "sum(i.qty * i.unit_price * (1 - coalesce(i.discount, 0))) AS net"
  - "sum(i.qty * i.unit_price) - sum(i.qty * i.unit_price * (1 - coalesce(i.discount, 0))) AS given"
  - "round(100.00 * sum(i.qty * i.unit_price * coalesce(i.discount, 0)) / sum(i.qty * i.unit_price), 2) AS discount_pct"
where:
  - {column: "o.id - 100", op: ">=", value: 0}
group_by: [c.id]
having:
  - {column: "sum(i.qty) * 2", op: ">", param: min}
order_by: ["net desc", "c.id * -1"]`,
			"SELECT c.id, SUM(i.qty * i.unit_price * (1 - COALESCE(i.discount, 0))), SUM(i.qty * i.unit_price) - SUM(i.qty * i.unit_price * (1 - COALESCE(i.discount, 0)))," +
				" ROUND(100.00 * SUM(i.qty * i.unit_price * COALESCE(i.discount, 0)) / SUM(i.qty * i.unit_price), 2)" +
				" FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items i ON i.order_id = o.id AND i.qty * i.unit_price > 1.00" +
				" WHERE o.id - 100 >= 0 GROUP BY c.id HAVING SUM(i.qty) * 2 > 2 ORDER BY 2 DESC, c.id * -1", true, 2},
	})
}

// TestIntegrationConditions compares conditions inside case and if with
// hand-written SQL, and the category-share report of docs/QUERIES.md.
func TestIntegrationConditions(t *testing.T) {
	db := seedShop(t)
	totals := parseDataset(t, "totals", `
internal: true
from: order_items i
select: ["sum(i.qty * i.unit_price) AS revenue"]`)
	env := Env{Datasets: []Dataset{totals}, Params: map[string]any{"modes": []any{"AIR", "MAIL"}, "big": int64(50)}}
	runExprCases(t, db, env, []exprCase{
		{"case and if with like, in, between, is null, and, or, not", `
from: orders o
joins:
  - {table: order_items, as: i, type: left, on: "i.order_id = o.id"}
  - {table: products, as: p, type: left, on: "p.id = i.product_id"}
select:
  - o.id
  - i.product_id
  - "case when o.ship_mode in ('AIR', 'MAIL') then 'fast' when o.ship_mode is null then 'none' else 'slow' end AS speed"
  - "case o.status when 'open' then 1 when 'shipped' then 2 end AS status_rank"
  - "case (o.status) when 'open' then 1 else 0 end AS is_open"
  - "if(p.name like 'Go%' and not p.name like '%board%', 'go', 'other') AS topic"
  - "if(o.ship_mode not in (:modes) or o.ship_mode is null, 1, 0) AS slow"
  - "if(i.qty between 1 and 2 * 2, 'few', 'many') AS size"
  - "if(i.qty not between 1 and 3 and (i.discount > 0.1 or i.discount is null), 1, 0) AS odd"
  - "case when not (i.qty > 1 or i.qty < 1) then 'one' end AS one"
  - "case(i.qty > 2, 'x', 'y') AS old_form"`,
			"SELECT o.id, i.product_id, CASE WHEN o.ship_mode IN ('AIR', 'MAIL') THEN 'fast' WHEN o.ship_mode IS NULL THEN 'none' ELSE 'slow' END," +
				" CASE o.status WHEN 'open' THEN 1 WHEN 'shipped' THEN 2 END, CASE o.status WHEN 'open' THEN 1 ELSE 0 END," +
				" IF(p.name LIKE 'Go%' AND NOT p.name LIKE '%board%', 'go', 'other'), IF(o.ship_mode NOT IN ('AIR', 'MAIL') OR o.ship_mode IS NULL, 1, 0)," +
				" IF(i.qty BETWEEN 1 AND 2 * 2, 'few', 'many'), IF(i.qty NOT BETWEEN 1 AND 3 AND (i.discount > 0.1 OR i.discount IS NULL), 1, 0)," +
				" CASE WHEN NOT (i.qty > 1 OR i.qty < 1) THEN 'one' END, CASE WHEN i.qty > 2 THEN 'x' ELSE 'y' END" +
				" FROM orders o LEFT JOIN order_items i ON i.order_id = o.id LEFT JOIN products p ON p.id = i.product_id", false, 10},
		{"category share", `
from: order_items i
joins:
  - {table: products, as: p, on: "p.id = i.product_id"}
  - {table: categories, as: k, type: left, on: "k.id = p.category_id"}
  - {dataset: totals, as: t, type: cross}
select:
  - "coalesce(k.name, '(none)') AS category"
  - "sum(i.qty * i.unit_price) AS revenue"
  - "round(100.00 * sum(i.qty * i.unit_price) / max(t.revenue), 2) AS share_pct"
  - "sum(case when i.qty * i.unit_price > :big then i.qty * i.unit_price else 0 end) AS big_lines"
  - "round(100.00 * sum(case when i.discount > 0 then i.qty else 0 end) / nullif(sum(i.qty), 0), 1) AS discounted_pct"
group_by: ["coalesce(k.name, '(none)')"]
order_by: ["revenue desc", category]`,
			"SELECT COALESCE(k.name, '(none)') AS category, SUM(i.qty * i.unit_price) AS revenue, ROUND(100.00 * SUM(i.qty * i.unit_price) / MAX(t.revenue), 2)," +
				" SUM(CASE WHEN i.qty * i.unit_price > 50 THEN i.qty * i.unit_price ELSE 0 END)," +
				" ROUND(100.00 * SUM(CASE WHEN i.discount > 0 THEN i.qty ELSE 0 END) / NULLIF(SUM(i.qty), 0), 1)" +
				" FROM order_items i JOIN products p ON p.id = i.product_id LEFT JOIN categories k ON k.id = p.category_id" +
				" CROSS JOIN (SELECT SUM(qty * unit_price) AS revenue FROM order_items) t GROUP BY 1 ORDER BY revenue DESC, category", true, 4},
	})
}

// TestIntegrationFilters compares where and having entries written as
// conditions, and any groups, with hand-written SQL.
func TestIntegrationFilters(t *testing.T) {
	db := seedShop(t)
	env := Env{Params: map[string]any{"since": "2026-02-01", "modes": []any{"AIR", "MAIL"}}}
	runExprCases(t, db, env, []exprCase{
		{"conditions and any groups in where", `
from: orders o
joins:
  - {table: order_items, as: i, on: "i.order_id = o.id"}
select: [o.id, i.product_id]
where:
  - "i.qty * i.unit_price > 10.00"
  - {column: o.status, op: "!=", value: cancelled}
  - any:
      - ["o.ship_mode in (:modes)", {column: o.shipping, op: "<", value: 5}]
      - ["o.ship_mode is null"]
      - - any: [["o.ordered_at >= :since"], [{column: o.id, op: in, value: [100]}]]
        - "not o.customer_id between 10 and 20"
  - {cond: "o.shipped_at is null or o.shipped_at > o.ordered_at"}`,
			"SELECT o.id, i.product_id FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.qty * i.unit_price > 10.00 AND o.status <> 'cancelled'" +
				" AND ((o.ship_mode IN ('AIR', 'MAIL') AND o.shipping < 5) OR o.ship_mode IS NULL OR ((o.ordered_at >= '2026-02-01' OR o.id IN (100)) AND NOT o.customer_id BETWEEN 10 AND 20))" +
				" AND (o.shipped_at IS NULL OR o.shipped_at > o.ordered_at)", false, 4},
		{"conditions with output names and any groups in having", `
from: orders o
joins:
  - {table: order_items, as: i, on: "i.order_id = o.id"}
select:
  - o.customer_id
  - "sum(i.qty * i.unit_price) AS revenue"
  - "sum(i.qty * i.unit_price * i.discount) AS given"
group_by: [o.customer_id]
having:
  - "revenue > 2 * given + 1"
  - any: [["sum(i.qty) >= 5"], [{column: revenue, op: ">", value: 100}]]`,
			"SELECT o.customer_id, SUM(i.qty * i.unit_price) AS revenue, SUM(i.qty * i.unit_price * i.discount) AS given FROM orders o JOIN order_items i ON i.order_id = o.id" +
				" GROUP BY o.customer_id HAVING SUM(i.qty * i.unit_price) > 2 * SUM(i.qty * i.unit_price * i.discount) + 1 AND (SUM(i.qty) >= 5 OR SUM(i.qty * i.unit_price) > 100)", false, 3},
	})
}

// TestIntegrationFunctions compares each function of issue 14 with
// hand-written SQL.
func TestIntegrationFunctions(t *testing.T) {
	db := seedShop(t)
	runExprCases(t, db, Env{}, []exprCase{
		{"numbers, strings, dates, cast and convert", `
from: orders o
joins:
  - {table: order_items, as: i, on: "i.order_id = o.id"}
  - {table: customers, as: c, type: left, on: "c.id = o.customer_id"}
select:
  - o.id
  - i.product_id
  - "abs(i.qty - 3) AS a"
  - "ceil(i.unit_price) AS b"
  - "floor(i.unit_price) AS c2"
  - "round(i.unit_price * 1.19, 2) AS d"
  - "greatest(i.qty, 1, 2) AS e"
  - "least(i.qty, 1) AS f"
  - "ifnull(i.discount, 0) AS g"
  - "nullif(i.qty, 0) AS h"
  - "cast(i.unit_price as signed) AS i1"
  - "cast(i.qty as unsigned integer) AS i2"
  - "cast(i.qty as decimal(10,2)) AS i3"
  - "cast(c.name as char(3)) AS i4"
  - "cast(o.ordered_at as date) AS i5"
  - "cast(o.ordered_at as datetime) AS i6"
  - "convert(i.unit_price, decimal(8)) AS i7"
  - "substring(c.name, 2) AS j1"
  - "substring(c.name, 1, 3) AS j2"
  - "left(c.name, 2) AS j3"
  - "right(c.name, 2) AS j4"
  - "trim(c.name) AS j5"
  - "length(c.name) AS j6"
  - "char_length(c.name) AS j7"
  - "replace(c.name, 'o', '0') AS j8"
  - "concat_ws('-', c.name, c.country) AS j9"
  - "date_add(o.ordered_at, interval 7 day) AS k1"
  - "date_sub(o.ordered_at, interval i.qty hour) AS k2"
  - "timestampdiff(minute, o.ordered_at, o.shipped_at) AS k3"
  - "last_day(o.ordered_at) AS k4"
  - "week(o.ordered_at) AS k5"
  - "week(o.ordered_at, 3) AS k6"
  - "quarter(o.ordered_at) AS k7"
  - "dayofweek(o.ordered_at) AS k8"
  - "extract(year from o.ordered_at) AS k9"
  - "extract(minute from o.ordered_at) AS k10"
  - "convert_tz(o.ordered_at, '+00:00', '+01:00') AS k11"
  - "date_add(o.ordered_at, interval -1 month) AS k12"`,
			"SELECT o.id, i.product_id, ABS(i.qty - 3), CEIL(i.unit_price), FLOOR(i.unit_price), ROUND(i.unit_price * 1.19, 2), GREATEST(i.qty, 1, 2), LEAST(i.qty, 1)," +
				" IFNULL(i.discount, 0), NULLIF(i.qty, 0), CAST(i.unit_price AS SIGNED), CAST(i.qty AS UNSIGNED), CAST(i.qty AS DECIMAL(10,2)), CAST(c.name AS CHAR(3))," +
				" CAST(o.ordered_at AS DATE), CAST(o.ordered_at AS DATETIME), CONVERT(i.unit_price, DECIMAL(8)), SUBSTRING(c.name, 2), SUBSTRING(c.name, 1, 3)," +
				" LEFT(c.name, 2), RIGHT(c.name, 2), TRIM(c.name), LENGTH(c.name), CHAR_LENGTH(c.name), REPLACE(c.name, 'o', '0'), CONCAT_WS('-', c.name, c.country)," +
				" DATE_ADD(o.ordered_at, INTERVAL 7 DAY), DATE_SUB(o.ordered_at, INTERVAL i.qty HOUR), TIMESTAMPDIFF(MINUTE, o.ordered_at, o.shipped_at)," +
				" LAST_DAY(o.ordered_at), WEEK(o.ordered_at), WEEK(o.ordered_at, 3), QUARTER(o.ordered_at), DAYOFWEEK(o.ordered_at), EXTRACT(YEAR FROM o.ordered_at)," +
				" EXTRACT(MINUTE FROM o.ordered_at), CONVERT_TZ(o.ordered_at, '+00:00', '+01:00'), DATE_ADD(o.ordered_at, INTERVAL -1 MONTH)" +
				" FROM orders o JOIN order_items i ON i.order_id = o.id LEFT JOIN customers c ON c.id = o.customer_id", false, 9},
		{"group_concat, stddev and variance", `
from: orders o
joins:
  - {table: order_items, as: i, on: "i.order_id = o.id"}
select:
  - o.customer_id
  - "group_concat(i.product_id order by i.product_id) AS products"
  - "group_concat(distinct i.qty order by i.qty desc separator '; ') AS sorted"
  - "group_concat(i.qty, 'x', i.product_id order by i.product_id separator '') AS glued"
  - "group_concat(o.status order by o.status separator 'it''s ') AS quoted"
  - "round(stddev(i.qty), 6) AS sd"
  - "round(variance(i.qty * i.unit_price), 6) AS var"
group_by: [o.customer_id]`,
			"SELECT o.customer_id, GROUP_CONCAT(i.product_id ORDER BY i.product_id), GROUP_CONCAT(DISTINCT i.qty ORDER BY i.qty DESC SEPARATOR '; ')," +
				" GROUP_CONCAT(i.qty, 'x', i.product_id ORDER BY i.product_id SEPARATOR ''), GROUP_CONCAT(o.status ORDER BY o.status SEPARATOR 'it''s ')," +
				" ROUND(STDDEV(i.qty), 6), ROUND(VARIANCE(i.qty * i.unit_price), 6)" +
				" FROM orders o JOIN order_items i ON i.order_id = o.id GROUP BY o.customer_id", false, 4},
	})
}
