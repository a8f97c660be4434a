package jobs

import (
	"database/sql"
	"errors"
	"log/slog"

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

// ResolveDSN returns the configured DSN with ${VAR} references replaced.
func (d Database) ResolveDSN() (string, error) {
	if d.Embedded() {
		return "", errors.New("the embedded demo database has no DSN of its own")
	}
	return config.ExpandEnv(d.DSN)
}
