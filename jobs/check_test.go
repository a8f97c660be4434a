package jobs_test

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// paramsJob declares a parameter of every type, with a default and
// required, single and as a list, and uses each in filters (=, !=, <, like,
// in, not in), in join conditions, in select and having expressions and in
// an internal dataset that another joins.
const paramsJob = `
timezone: Europe/Berlin
jobs:
  - name: params-check
    schedule: "@daily"
    window: previous_day
    params:
      s: {type: string, default: "%e%"}
      s_req: {type: string, required: true}
      i: {type: int, default: 1}
      i_req: {type: int, required: true}
      d: {type: decimal, default: "1.50"}
      d_req: {type: decimal, required: true}
      day: {type: date, default: "2024-01-01"}
      day_req: {type: date, required: true}
      at: {type: datetime, default: "2024-01-01 06:00"}
      at_req: {type: datetime, required: true}
      b: {type: bool, default: true}
      b_req: {type: bool, required: true}
      ls: {type: "list<string>", default: [DE, FR]}
      ls_req: {type: "list<string>", required: true}
      li: {type: "list<int>", default: [1, 2]}
      li_req: {type: "list<int>", required: true}
      ld: {type: "list<decimal>", default: ["12.50", "0.00"]}
      ld_req: {type: "list<decimal>", required: true}
      lday: {type: "list<date>", default: ["2024-01-05", "2024-02-10"]}
      lday_req: {type: "list<date>", required: true}
      lat: {type: "list<datetime>", default: ["2024-01-05 11:00"]}
      lat_req: {type: "list<datetime>", required: true}
      lb: {type: "list<bool>", default: [true, false]}
      lb_req: {type: "list<bool>", required: true}
    datasets:
      picked:
        internal: true
        from: users u
        select: [u.id, "if(:b_req = 1, u.score, :d) AS score"]
        where:
          - {column: u.id, op: in, param: li}
          - {column: u.id, op: not in, param: li_req}
          - {column: u.created_at, op: ">=", param: window_start}
      posts:
        from: users u
        joins:
          - {table: posts, as: p, type: left, on: ["u.id = p.user_id", "p.views >= :i_req", "p.published_at < :at"]}
          - {dataset: picked, as: k, type: left, on: "k.id = u.id"}
        select:
          - u.id
          - u.name
          - k.score
          - "if(:b != 0, u.name, :s_req) AS label"
          - {column: p.id, agg: count, as: posts}
        where:
          - {column: u.name, op: like, param: s}
          - {column: u.name, op: "!=", param: s_req}
          - {column: u.country, op: in, param: ls}
          - {column: u.country, op: not in, param: ls_req}
          - {column: u.id, op: ">", param: i}
          - {column: u.score, op: "<", param: d_req}
          - {column: u.score, op: in, param: ld}
          - {column: u.score, op: not in, param: ld_req}
          - {column: "date(u.created_at)", op: "=", param: day}
          - {column: "date(u.created_at)", op: "!=", param: day_req}
          - {column: "date(u.created_at)", op: in, param: lday}
          - {column: "date(u.created_at)", op: not in, param: lday_req}
          - {column: u.created_at, op: "<=", param: at_req}
          - {column: u.created_at, op: in, param: lat}
          - {column: u.created_at, op: not in, param: lat_req}
          - {column: "if(u.score > 0, 1, 0)", op: "=", param: b}
          - {column: "if(u.score > 0, 1, 0)", op: in, param: lb}
          - {column: "if(u.score > 0, 1, 0)", op: not in, param: lb_req}
          - {column: ":i", op: between, value: [0, 100]}
          - {column: u.id, op: between, value: [1, 100]}
        group_by: [u.id, u.name, k.score]
        having:
          - {agg: count, column: p.id, op: ">=", param: i}
    outputs:
      - {format: csv, path: "{dataset}.csv"}
`

// TestCheckBindsDeclaredTypes: validate --connect's Job.Check prepares every
// dataset, internal ones too, with each parameter bound as its type (its
// default, or a zero value), so list parameters pass in and not in; and a
// dataset that names a missing column still fails in the server's words.
func TestCheckBindsDeclaredTypes(t *testing.T) {
	// In a database zone other than UTC, Check also asks the server the
	// types of the columns date-times are compared with: every one here
	// is a DATETIME, so there is nothing to say.
	for _, db := range []string{"UTC", "Europe/Berlin"} {
		t.Run(db, func(t *testing.T) {
			r, _ := setup(t, "database: {timezone: "+db+"}\n"+paramsJob)
			job := &r.Config.Jobs[0]
			checks := job.Check(context.Background(), r.DB, r.Config.Database.Location)
			if len(checks) != len(job.Datasets) {
				t.Errorf("%d datasets checked, want %d", len(checks), len(job.Datasets))
			}
			for _, c := range checks {
				if c.Err != nil || c.Warnings != nil {
					t.Errorf("dataset %s: %v, warnings %q", c.Dataset, c.Err, c.Warnings)
				}
			}
		})
	}

	for _, tt := range []struct{ name, from, to, want string }{
		{"posts", `{column: u.id, op: ">", param: i}`, `{column: u.idd, op: ">", param: i}`,
			"dataset posts: Error 1054 (42S22): Unknown column 'u.idd' in 'WHERE'"},
		{"internal", `{column: u.id, op: in, param: li}`, `{column: u.idx, op: in, param: li}`,
			"dataset picked: Error 1054 (42S22): Unknown column 'u.idx' in 'WHERE'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := setup(t, strings.Replace(paramsJob, tt.from, tt.to, 1))
			job := &r.Config.Jobs[0]
			var errs []string
			for _, c := range job.Check(context.Background(), r.DB, r.Config.Database.Location) {
				if c.Err != nil {
					errs = append(errs, "dataset "+c.Dataset+": "+c.Err.Error())
				}
			}
			if !slices.Contains(errs, tt.want) {
				t.Errorf("errors %q, want %q among them", errs, tt.want)
			}
		})
	}
}
