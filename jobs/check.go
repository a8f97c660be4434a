package jobs

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/joinery/joinery/queries"
)

// Check compiles ds and has the server prepare it without running it: the
// server resolves every table and column then, so a missing one is reported
// in its own words (Unknown column 'p.userid' in 'on clause').
func Check(ctx context.Context, db *sql.DB, ds *queries.Dataset) error {
	q, err := queries.Compile(ds)
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	stmt, err := db.PrepareContext(ctx, q.SQL)
	if err != nil {
		return err
	}
	return stmt.Close()
}
