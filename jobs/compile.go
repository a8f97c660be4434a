package jobs

import (
	"iter"
	"time"

	"github.com/joinery/joinery/queries"
)

// Query is one dataset of a run, compiled for it.
type Query struct {
	Dataset *queries.Dataset
	queries.Query
}

// Queries compiles, in order, the datasets that a run of the job planned
// by p writes, for a database whose DATETIME values are wall clocks in
// dbLoc (database.timezone): every dataset but the internal ones, which
// are compiled into the queries that use them. A dataset that does not
// compile is yielded with its error, and the loop goes on if the caller
// does. The runner, sql, explain and validate --connect all go through this
// loop; the runner's environment also says which windows the server types
// TIMESTAMP, and validate's has every dataset and a check plan (Check).
func (j *Job) Queries(p Plan, dbLoc *time.Location) iter.Seq2[Query, error] {
	return j.queries(j.env(p, dbLoc), false)
}

// queries compiles the datasets of the job in env, in order: the ones a
// run writes, or every one with internal.
func (j *Job) queries(env queries.Env, internal bool) iter.Seq2[Query, error] {
	return func(yield func(Query, error) bool) {
		for i := range j.Datasets {
			ds := &j.Datasets[i]
			if ds.Internal && !internal {
				continue // only used as a derived table
			}
			q, err := queries.Compile(ds, env)
			if !yield(Query{Dataset: ds, Query: q}, err) {
				return
			}
		}
	}
}

// env returns the compile environment of a run of the job planned by p,
// for a database whose DATETIME values are wall clocks in dbLoc.
func (j *Job) env(p Plan, dbLoc *time.Location) queries.Env {
	return queries.Env{Window: p.Window, Params: p.Params, Datasets: j.Datasets, Location: dbLoc, Diagnostics: true}
}
