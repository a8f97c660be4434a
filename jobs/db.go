package jobs

import (
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/internal/mysqlconn"
)

// OpenDB opens a connection pool to dsn with the settings of d: see
// mysqlconn.Open for what joinery sets whatever the DSN says.
func OpenDB(d Database, dsn string, log *slog.Logger) (*sql.DB, error) {
	return mysqlconn.Open(dsn, mysqlconn.Options{
		ConnectTimeout:  d.ConnectTimeout,
		ReadTimeout:     d.ReadTimeout,
		WriteTimeout:    d.WriteTimeout,
		MaxOpenConns:    d.MaxOpenConns,
		ConnMaxLifetime: d.ConnMaxLifetime,
	}, log)
}

// controlConns is the size of the control pool (OpenControlDB).
const controlConns = 2

// OpenControlDB opens the runner's control pool (Runner.Control) on the
// database of dsn: a few connections of its own for the short statements
// that must never wait for a run's connection, the lease's (take,
// heartbeat, release) and the KILL of a cancelled query. Each run holds
// a connection of the main pool for as long as it runs: with every one
// of them taken, a lease could not be taken nor kept on the same pool.
// The driver's messages go to log (nil: the driver's own logger, on stderr).
func OpenControlDB(d Database, dsn string, log *slog.Logger) (*sql.DB, error) {
	return mysqlconn.Open(dsn, mysqlconn.Options{
		ConnectTimeout:  d.ConnectTimeout,
		ReadTimeout:     time.Minute, // short statements only
		WriteTimeout:    d.WriteTimeout,
		MaxOpenConns:    controlConns,
		ConnMaxLifetime: d.ConnMaxLifetime,
		Second:          true,
	}, log)
}

// ResolveDSN returns the configured DSN with ${VAR} references replaced.
func (d Database) ResolveDSN() (string, error) {
	if d.Embedded() {
		return "", errors.New("the embedded demo database has no DSN of its own")
	}
	return config.ExpandEnv(d.DSN)
}
