// Package testdb gives integration tests a fresh, throwaway database on a real
// MariaDB or MySQL server, and a small canonical users/posts data set to run
// joins against.
//
// The server is named by the JOINERY_TEST_DSN environment variable: a
// go-sql-driver/mysql DSN for a user that may create and drop databases, with
// no database in it, such as root@tcp(127.0.0.1:3306)/. `bash .ci/run` starts a
// throwaway MariaDB and sets it. Without it the tests that need a database are
// skipped, unless JOINERY_REQUIRE_DB is set (as CI does), in which case they
// fail.
//
// Each test gets its own database, named joinery_test_<random hex>, created on
// the first call to New or DSN for that test and dropped when the test ends,
// so tests may run in parallel against one server.
//
// Galera does the same on a MariaDB Galera cluster named by
// JOINERY_GALERA_DSNS (skipped without it, failed when
// JOINERY_REQUIRE_CLUSTER is set). StartGalera starts a cluster of the
// test's own, for a test that kills one of its nodes.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Environment variables read by this package.
const (
	// EnvDSN names the server: a DSN without a database.
	EnvDSN = "JOINERY_TEST_DSN"
	// EnvRequire, when set to anything, turns a missing EnvDSN into a failure.
	EnvRequire = "JOINERY_REQUIRE_DB"
)

// opTimeout bounds the administrative statements (CREATE and DROP DATABASE).
const opTimeout = 30 * time.Second

// databases maps each testing.TB to the DSN of the database created for it,
// so that New and DSN called by the same test refer to the same database.
// Entries are removed by the test's cleanup.
var databases sync.Map // testing.TB -> string

// New returns a handle to the test's own freshly created, empty database.
//
// The database is created on the first call of New or DSN for t and dropped
// when t ends; the handle is closed when t ends. Calling New again in the same
// test returns another handle to the same database. The connection uses
// parseTime=false (DATETIME values scan as text), loc=UTC and no multi-statements.
func New(t testing.TB) *sql.DB {
	t.Helper()
	dsn := DSN(t)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("testdb: open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("testdb: close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("testdb: ping: %v", err)
	}
	return db
}

// Open returns a pool on dsn (another server, a node of a cluster, a
// user of the test's database), closed when t ends. It does not connect:
// the first query does.
func Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// DSN returns the go-sql-driver/mysql DSN of the test's own database, for
// tests that hand a DSN to something else, such as the joinery binary.
//
// It creates the database if New or DSN has not yet been called for t, and
// has the same skip and cleanup behaviour as New.
func DSN(t testing.TB) string {
	t.Helper()
	if dsn, ok := databases.Load(t); ok {
		return dsn.(string)
	}
	server := os.Getenv(EnvDSN)
	if server == "" {
		if os.Getenv(EnvRequire) != "" {
			t.Fatalf("testdb: %s is not set but %s is; run bash .ci/run", EnvDSN, EnvRequire)
		}
		t.Skipf("%s is not set; run bash .ci/run", EnvDSN)
	}
	cfg := serverConfig(t, EnvDSN, server)
	name := createDatabase(t, cfg)
	t.Cleanup(func() { databases.Delete(t) })

	cfg.DBName = name
	dsn := cfg.FormatDSN()
	databases.Store(t, dsn)
	return dsn
}

// serverConfig parses dsn, the value of the environment variable env, as
// a server's DSN (no database in it) and sets the options every test
// connection uses: a 10 s dial timeout unless given, parseTime=false,
// loc=UTC and no multi-statements.
func serverConfig(t testing.TB, env, dsn string) *mysql.Config {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("testdb: parse %s: %v", env, err)
	}
	if cfg.DBName != "" {
		t.Fatalf("testdb: %s must not name a database, got %q", env, cfg.DBName)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	cfg.ParseTime = false
	cfg.Loc = time.UTC
	cfg.MultiStatements = false
	return cfg
}

// createDatabase creates a database named joinery_test_<random hex> on
// the server of cfg, drops it when t ends, and returns its name.
func createDatabase(t testing.TB, cfg *mysql.Config) string {
	t.Helper()
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("testdb: open server: %v", err)
	}
	name, err := newDatabase(admin)
	if err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("testdb: drop database %s: %v", name, err)
		}
	})
	return name
}

// newDatabase creates a database named joinery_test_<random hex> on
// admin's server and returns its name.
func newDatabase(admin *sql.DB) (string, error) {
	name := "joinery_test_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// The name is made here from hex digits only, so quoting it is enough.
	_, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	if err != nil {
		return "", fmt.Errorf("testdb: create database %s: %w", name, err)
	}
	return name, nil
}

// Exec runs each statement in order on db and fails the test at the first
// error. Each statement must be a single SQL statement.
func Exec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for i, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("testdb: statement %d: %v\n%s", i+1, err, stmt)
		}
	}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}

// LimitedUser creates a user of the test's database that may hold one
// connection at a time (MAX_USER_CONNECTIONS 1), dropped when the test
// ends, and returns dsn with its name and password: a second connection
// fails with 1226, an error that passes (runs retry it).
func LimitedUser(t testing.TB, db *sql.DB, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	user := "joinery_" + strings.TrimPrefix(cfg.DBName, "joinery_test_")
	Exec(t, db,
		"CREATE USER '"+user+"'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1",
		"GRANT ALL ON `"+cfg.DBName+"`.* TO '"+user+"'@'%'")
	t.Cleanup(func() { db.Exec("DROP USER '" + user + "'@'%'") })
	cfg.User, cfg.Passwd = user, "pw"
	return cfg.FormatDSN()
}
