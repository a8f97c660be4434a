package queries

import (
	"fmt"
	"strings"
)

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
