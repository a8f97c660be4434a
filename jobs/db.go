package jobs

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// OpenDB opens a connection pool to dsn with the settings of d. Whatever
// the DSN says, joinery reads temporal values as text (parseTime=false, so
// zero dates survive), binds every value server-side (no client-side
// interpolation) and runs one statement per call; the session time zone is
// UTC so that TIMESTAMP values arrive as UTC instants.
func OpenDB(d Database, dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The parser's message never echoes the DSN, which may hold a password.
		return nil, fmt.Errorf("database.dsn: %w", err)
	}
	cfg.ParseTime = false
	cfg.InterpolateParams = false
	cfg.MultiStatements = false
	cfg.Loc = time.UTC
	if cfg.Timeout == 0 {
		cfg.Timeout = d.ConnectTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = d.ReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if cfg.Params == nil {
		cfg.Params = make(map[string]string)
	}
	cfg.Params["time_zone"] = "'+00:00'"
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("database.dsn: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(d.MaxOpenConns)
	db.SetMaxIdleConns(d.MaxOpenConns)
	db.SetConnMaxLifetime(d.ConnMaxLifetime)
	return db, nil
}

// ResolveDSN returns the configured DSN with ${VAR} references replaced.
func (d Database) ResolveDSN() (string, error) {
	if d.Embedded() {
		return "", errors.New("the embedded demo database has no DSN of its own")
	}
	return expandEnv(d.DSN)
}

// Redact returns dsn without its password, for logs and messages.
func Redact(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return fmt.Sprintf("%s@%s(%s)/%s", cfg.User, cfg.Net, cfg.Addr, cfg.DBName)
}
