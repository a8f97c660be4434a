package queries

import (
	"strings"
	"testing"
)

func TestTableUnmarshalText(t *testing.T) {
	tests := []struct {
		in   string
		want Table
	}{
		{"users", Table{Table: "users"}},
		{"users u", Table{Table: "users", As: "u"}},
		{"users AS u", Table{Table: "users", As: "u"}},
		{"  users   as   u ", Table{Table: "users", As: "u"}},
		{"users As u", Table{Table: "users", As: "u"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got Table
			if err := got.UnmarshalText([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, in := range []string{"", "  ", "users as", "users AS u x", "users u v", "a b c d"} {
		t.Run("reject "+in, func(t *testing.T) {
			var got Table
			err := got.UnmarshalText([]byte(in))
			if err == nil || !strings.Contains(err.Error(), "want \"table\"") {
				t.Errorf("got %v, want a shorthand error", err)
			}
		})
	}
}

func TestConditionUnmarshalText(t *testing.T) {
	tests := []struct {
		in   string
		want Condition
	}{
		{"u.id = p.user_id", Condition{"u.id", "=", "p.user_id"}},
		{"u.id=p.user_id", Condition{"u.id", "=", "p.user_id"}},
		{" u.id  !=  p.user_id ", Condition{"u.id", "!=", "p.user_id"}},
		{"u.id <> p.user_id", Condition{"u.id", "<>", "p.user_id"}},
		{"u.id < p.user_id", Condition{"u.id", "<", "p.user_id"}},
		{"u.id <= p.user_id", Condition{"u.id", "<=", "p.user_id"}},
		{"u.id > p.user_id", Condition{"u.id", ">", "p.user_id"}},
		{"u.id >= p.user_id", Condition{"u.id", ">=", "p.user_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got Condition
			if err := got.UnmarshalText([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, in := range []string{"", "u.id", "u.id = ", "u.id == p.id", "u.id => p.id", "u.id <=> p.id", "u.id = p.id AND u.a = p.b", "u.id p.id", "u.id ! p.id"} {
		t.Run("reject "+in, func(t *testing.T) {
			var got Condition
			err := got.UnmarshalText([]byte(in))
			if err == nil || !strings.Contains(err.Error(), "alias.column OP alias.column") {
				t.Errorf("got %v, want a shorthand error", err)
			}
		})
	}
}

func TestSelectionUnmarshalText(t *testing.T) {
	tests := []struct {
		in   string
		want Selection
	}{
		{"u.name", Selection{Column: "u.name"}},
		{"u.name AS user_name", Selection{Column: "u.name", As: "user_name"}},
		{"u.name as user_name", Selection{Column: "u.name", As: "user_name"}},
		{"count(p.id) AS posts", Selection{Agg: "count", Column: "p.id", As: "posts"}},
		{"COUNT( p.id )", Selection{Agg: "count", Column: "p.id"}},
		{"count_distinct(p.user_id) as n", Selection{Agg: "count_distinct", Column: "p.user_id", As: "n"}},
		{"count(*)", Selection{Agg: "count", Column: "*"}},
		{"count(*) AS n", Selection{Agg: "count", Column: "*", As: "n"}},
		{"Sum(p.score)", Selection{Agg: "sum", Column: "p.score"}},
		// Unknown aggregates parse; Validate rejects them with a path.
		{"median(p.score)", Selection{Agg: "median", Column: "p.score"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got Selection
			if err := got.UnmarshalText([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, in := range []string{"", "u.name user_name", "u.name AS", "u.name AS a b", "count(p.id", "as", "u.name, u.email", "lower(u.email) AS", "'unterminated AS x"} {
		t.Run("reject "+in, func(t *testing.T) {
			var got Selection
			err := got.UnmarshalText([]byte(in))
			if err == nil || !strings.Contains(err.Error(), "agg(alias.column) AS name") {
				t.Errorf("got %v, want a shorthand error", err)
			}
		})
	}
}

func TestOrderUnmarshalText(t *testing.T) {
	tests := []struct {
		in   string
		want Order
	}{
		{"u.id", Order{Column: "u.id"}},
		{"u.id desc", Order{Column: "u.id", Dir: "desc"}},
		{"u.id ASC", Order{Column: "u.id", Dir: "asc"}},
		{"posts DESC", Order{Column: "posts", Dir: "desc"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got Order
			if err := got.UnmarshalText([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, in := range []string{"", "u.id down", "u.id desc nulls first", "u.id, u.name"} {
		t.Run("reject "+in, func(t *testing.T) {
			var got Order
			err := got.UnmarshalText([]byte(in))
			if err == nil || !strings.Contains(err.Error(), "alias.column desc") {
				t.Errorf("got %v, want a shorthand error", err)
			}
		})
	}
}
