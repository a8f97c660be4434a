package queries

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/exp"
)

// Join diagnostics and expect rules: which outer joins can be diagnosed,
// the hidden columns that count their matched and unmatched rows, the
// counts a run makes of them (JoinStats), and the expect rules checked
// against those counts and the row count.

// Expect is a check made after a dataset has been read. Check is "rows" or
// "<alias>.<count>" for an outer join with that alias, count being matched,
// left_unmatched or right_unmatched (see JoinStats). In YAML: a mapping
// {check: rows, op: ">=", value: 1, on_fail: warn} or the string
// "rows >= 1" / "p.right_unmatched = 0" (on_fail: fail).
type Expect struct {
	Check  string `yaml:"check"`
	Op     string `yaml:"op"` // = != <> < <= > >=
	Value  int64  `yaml:"value"`
	OnFail string `yaml:"on_fail"` // fail (default) or warn
}

// UnmarshalText parses the shorthand "CHECK OP N": "rows >= 1",
// "p.right_unmatched = 0"; such a check fails the job when it does not hold.
func (x *Expect) UnmarshalText(text []byte) error {
	f := strings.Fields(string(text))
	if len(f) == 3 {
		if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
			*x = Expect{Check: f[0], Op: f[1], Value: n}
			return nil
		}
	}
	return fmt.Errorf("expect %q: want \"rows >= 1\" or \"<join alias>.left_unmatched = 0\" (CHECK OP NUMBER)", text)
}

// JoinDiag describes one diagnosed outer join: its alias and type, and Key,
// the column whose NULL-ness tells a matched row from a NULL-extended one:
// a column of the joined table for left and full joins, of a table before
// it for right joins. Key is compared, as a whole operand, by an on
// condition; every on operator is null-rejecting, so Key is never NULL in a
// matched row, whether or not the column is nullable.
type JoinDiag struct {
	Alias string
	Type  string
	Key   string
}

// Join diagnostic counts, the second part of an Expect check.
const (
	statMatched        = "matched"
	statLeftUnmatched  = "left_unmatched"
	statRightUnmatched = "right_unmatched"
)

// hiddenPrefix starts the names of the columns Compile adds for join
// diagnostics; output names may not use it (select.go).
const hiddenPrefix = "_joinery_"

// JoinStats counts the joined rows of one diagnosed outer join of a
// dataset (see Query.Joins), over the rows the dataset returned (after
// where, having and limit; before grouping when it aggregates).
type JoinStats struct {
	Alias string
	Type  string
	// Matched rows have both sides: a row of the tables before the join
	// and a row of the joined table.
	Matched int64
	// LeftUnmatched rows have a left side that matched nothing in the
	// joined table (users without posts, for users LEFT JOIN posts).
	LeftUnmatched int64
	// RightUnmatched rows are rows of the joined table that matched no left
	// row (posts without a user, for users RIGHT or FULL JOIN posts).
	RightUnmatched int64
}

// Add counts one row from the values of its three hidden columns
// (matched, left_unmatched, right_unmatched; counts when grouped).
func (s *JoinStats) Add(matched, left, right int64) {
	s.Matched += matched
	s.LeftUnmatched += left
	s.RightUnmatched += right
}

func (s JoinStats) stat(name string) int64 {
	switch name {
	case statMatched:
		return s.Matched
	case statLeftUnmatched:
		return s.LeftUnmatched
	}
	return s.RightUnmatched
}

// String reads as "p (left join): 16 matched, 2 left unmatched, 0 right unmatched".
func (s JoinStats) String() string {
	return fmt.Sprintf("%s (%s join): %d matched, %d left unmatched, %d right unmatched", s.Alias, s.Type, s.Matched, s.LeftUnmatched, s.RightUnmatched)
}

// Evaluate checks the dataset's expect rules against what a run read: rows
// and the stats of its diagnosed joins. It returns a message per rule that
// does not hold, split by on_fail.
func Evaluate(d *Dataset, rows int64, joins []JoinStats) (failed, warned []string) {
	for _, x := range d.Expect {
		got, ok := rows, true
		if x.Check != "rows" {
			alias, stat, _ := strings.Cut(x.Check, ".")
			ok = false
			for _, j := range joins {
				if j.Alias == alias {
					got, ok = j.stat(stat), true
				}
			}
		}
		if ok && holds(got, strings.TrimSpace(x.Op), x.Value) {
			continue
		}
		msg := fmt.Sprintf("expect %s %s %d: got %d", x.Check, strings.TrimSpace(x.Op), x.Value, got)
		if !ok {
			msg = fmt.Sprintf("expect %s %s %d: no diagnostics for this join", x.Check, x.Op, x.Value)
		}
		if normWord(x.OnFail) == "warn" {
			warned = append(warned, msg)
		} else {
			failed = append(failed, msg)
		}
	}
	return failed, warned
}

func holds(got int64, op string, want int64) bool {
	switch op {
	case "=":
		return got == want
	case "!=", "<>":
		return got != want
	case "<":
		return got < want
	case "<=":
		return got <= want
	case ">":
		return got > want
	}
	return got >= want
}

// diagnosed returns the indexes of the joins that get diagnostics: left
// and full joins whose on conditions compare a column of the joined table
// (or that use using), right joins whose on conditions compare a column of
// a table before them; in each case only when no right or full join
// follows, since that could NULL-extend the rows they made.
func diagnosed(d *Dataset) []int {
	var out []int
	for i, j := range d.Joins {
		later := slices.ContainsFunc(d.Joins[i+1:], func(j Join) bool { t := j.normType(); return t == joinRight || t == joinFull })
		l, r := joinKeys(d, i)
		switch t := j.normType(); {
		case later:
		case (t == joinLeft || t == joinFull) && r != "", t == joinRight && l != "":
			out = append(out, i)
		}
	}
	return out
}

// joinDiags describes the diagnosed joins of d.
func joinDiags(d *Dataset) []JoinDiag {
	var diags []JoinDiag
	for _, i := range diagnosed(d) {
		l, r := joinKeys(d, i)
		j := JoinDiag{Alias: d.Joins[i].alias(), Type: d.Joins[i].normType(), Key: r}
		if j.Type == joinRight {
			j.Key = l
		}
		diags = append(diags, j)
	}
	return diags
}

func (v *validator) expects() {
	for i, x := range v.d.Expect {
		p := fmt.Sprintf("expect[%d]", i)
		if x.Check != "rows" {
			alias, stat, _ := strings.Cut(x.Check, ".")
			pos, defined := v.aliases[alias]
			switch {
			case v.d.IsRaw():
				v.add(p+".check", x.Check, "join diagnostics need the declarative form (from and joins): a raw SQL dataset can only check rows")
			case stat != statMatched && stat != statLeftUnmatched && stat != statRightUnmatched:
				v.add(p+".check", x.Check, "want rows or <alias>.matched, <alias>.left_unmatched or <alias>.right_unmatched")
			case !defined || pos == 0:
				v.add(p+".check", x.Check, "%q is not the alias of a join (%s)", alias, v.knownAliases())
			case !slices.Contains(diagnosed(v.d), pos-1):
				v.add(p+".check", x.Check, "join %s has no diagnostics: only left, right and full joins have them, when an on condition compares a column of the joined table (a table before it, for right joins) and no right or full join follows", alias)
			}
		}
		if !slices.Contains(onOps, strings.TrimSpace(x.Op)) {
			v.add(p+".op", x.Op, "want one of %s", strings.Join(onOps, " "))
		}
		if x.Value < 0 {
			v.add(p+".value", x.Value, "must be at least 0")
		}
		if f := normWord(x.OnFail); f != "" && f != "fail" && f != "warn" {
			v.add(p+".on_fail", x.OnFail, "want fail or warn")
		}
	}
}

// hiddenColumns adds the diagnostic columns of b.diags after the select
// list: per join, matched, left_unmatched and right_unmatched, summed when
// the dataset aggregates. In the right branch of an emulated full join,
// every row is a right row that matched nothing.
func (c *compiler) hiddenColumns(ds *goqu.SelectDataset, d *Dataset, b branch) *goqu.SelectDataset {
	if len(b.diags) == 0 {
		return ds
	}
	var out []any
	grouped, rightBranch := c.grouped(d), b.fullAs == joinRight
	zero, one := goqu.L("0"), goqu.L("1")
	for i, j := range b.diags {
		k := goqu.I(j.Key)
		var conds []exp.Expression
		switch {
		case j.Type == joinFull && rightBranch:
			conds = []exp.Expression{zero, zero, one}
		case j.Type == joinRight:
			conds = []exp.Expression{k.IsNotNull(), zero, k.IsNull()}
		default: // left, or the first branch of full
			conds = []exp.Expression{k.IsNotNull(), k.IsNull(), zero}
		}
		for k, cond := range conds {
			var col exp.Aliaseable = goqu.L("?", cond)
			if grouped {
				col = goqu.SUM(goqu.L("?", cond))
			}
			out = append(out, col.As(hiddenName(i, k)))
		}
	}
	return ds.SelectAppend(out...)
}

// hiddenName names the k-th diagnostic column (0 matched, 1
// left_unmatched, 2 right_unmatched) of the i-th diagnosed join.
func hiddenName(i, k int) string {
	return hiddenPrefix + strconv.Itoa(i) + "_" + [...]string{statMatched, statLeftUnmatched, statRightUnmatched}[k]
}
