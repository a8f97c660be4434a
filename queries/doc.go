// Package queries compiles declarative dataset specs (the datasets of a job
// in config.yaml) into MySQL/MariaDB SQL with bound arguments, using goqu in
// prepared mode. Nothing from the configuration is spliced into SQL text
// without validation: identifiers must match ^[A-Za-z_][A-Za-z0-9_]*$ (table
// columns are always written qualified, as alias.column) and every value is a
// bound "?" argument.
//
// A Dataset is checked with Validate in a Scope (the job's parameters, the
// datasets before it, whether runs have a window), which reports every
// problem as a *config.FieldError whose Path is relative to the dataset, then
// compiled with Compile in an Env (the run's window and parameter values, the
// job's datasets, the database's zone). Shorthand strings accepted in YAML
// ("users u", "u.id = p.user_id", "count(p.id) AS posts", "u.id desc",
// "rows >= 1") are parsed by the UnmarshalText methods of Table, Condition,
// Selection, Order and Expect.
//
// Column fields take expressions of a small language (see expr.go and
// docs/QUERIES.md): columns, select output names, literals and :parameters
// (always bound), and calls of a vetted set of functions. A join target or
// the from table may be an earlier dataset of the job, compiled as a derived
// table. With Env.Diagnostics, every diagnosable outer join adds three hidden
// result columns after the dataset's own, from which the runner counts
// matched and unmatched rows (JoinStats) without a second scan; Evaluate
// checks the dataset's expect rules against them.
//
// The code is organised by construct: each file (joins.go, select.go,
// filters.go, groupby.go, orderby.go, window.go, params.go, derived.go,
// fulljoin.go, diagnostics.go; expr.go and funcs.go for expressions) holds
// a construct's types, its shorthand, its check (a validator method) and
// its clause (a compiler method); dataset.go runs them in order. A
// problem's Kind tells a missing field from a wrong one. See
// docs/ARCHITECTURE-queries.md.
//
// # Semantics worth knowing
//
//   - like and not like compile to plain LIKE / NOT LIKE, so they follow the
//     column's collation (case-insensitive for the usual *_ci collations), never
//     LIKE BINARY.
//   - A boolean value compares as 1 or 0 with ordinary SQL semantics
//     (active = 1), not as IS TRUE.
//   - Aggregates are always given an output name: the "as" name, or
//     <agg>_<column> (count_id, count_distinct_user_id, sum_amount; count for
//     count(*)). A plain column without "as" is named after its column. Output
//     names must be unique ignoring case, because they become CSV headers and
//     XLSX table headers.
//   - When the select list has aggregates, every plain selected column must be
//     listed in group_by (MariaDB does not detect functional dependencies).
//   - where cannot use aggregates (use having). having and order_by may name a
//     select output column unqualified (posts), or a table column qualified
//     (u.id); having may also aggregate (agg: count, column: p.id).
//
// # Full outer joins
//
// MySQL and MariaDB have no FULL OUTER JOIN, so a join of type full is
// emulated:
//
//	SELECT <cols> FROM <left> LEFT JOIN t ON <on> <later joins> WHERE <where>
//	UNION ALL
//	(SELECT <cols> FROM <left> RIGHT JOIN t ON <on> <later joins> WHERE <where> AND <key> IS NULL)
//
// where <left> is the from table and every join before the full join, and
// <key> is the first column of <left> that an on condition compares as a
// whole operand. UNION ALL (never UNION) keeps rows that are genuinely equal. The
// arguments are those of the first branch followed by those of the second
// (then the limit, if any).
//
// Supported, and rejected by Validate otherwise:
//
//   - at most one full join per dataset;
//   - its on conditions must include one that compares a column of a table
//     before it (from or an earlier join) as a whole operand, e.g.
//     u.id = p.user_id; using is not supported;
//   - joins of any type may come before it; joins after it must be inner,
//     left or cross (a right or full join after it does not distribute over
//     the UNION ALL);
//   - no aggregates, group_by or having (grouping would have to span both
//     branches);
//   - order_by and limit are allowed: the union is then wrapped as
//     SELECT * FROM (<union>) AS full_rows ORDER BY ... LIMIT ?, and every
//     order_by term must name a selected column, either by its output name or
//     as the alias.column it selects.
//
// The goqu dialect used here is MySQL's with FULL joins removed, so a full
// join that escaped the emulation fails to build instead of producing SQL the
// server would reject or, worse, misparse.
package queries
