// Package demodb runs an in-memory, MySQL-compatible demo database inside the
// process, so that joinery can be tried without installing MySQL.
//
// It uses dolthub/go-mysql-server, which speaks the MySQL wire protocol on a
// loopback port; joinery connects to it with go-sql-driver/mysql like to any
// server. The database demo holds tables users and posts with the columns of
// the test schema in internal/testdb, filled with about 10,000 generated rows
// dated in the two years before the current UTC day (referenceDate): the
// same on every run of one day.
//
// The engine accepts SQL that MySQL rejects (a native FULL OUTER JOIN, for
// one) and differs in details such as SUM over DECIMAL returning DOUBLE, so it
// is for demonstrations only: correctness tests run on MariaDB. Linking it makes
// the binary much larger and process start slower (see docs/BENCHMARKS.md,
// Numbers moved from code comments, internal/demodb), so keep this package out
// of the production binary.
package demodb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	gmssql "github.com/dolthub/go-mysql-server/sql"
	"github.com/go-sql-driver/mysql"
	"github.com/sirupsen/logrus"
)

// databaseName is the name of the demo database in the returned DSN.
const databaseName = "demo"

// Start starts the demo database server on a free port of 127.0.0.1, creates
// and seeds the database demo, and returns its go-sql-driver/mysql DSN (user
// root, no password) and a function that stops the server. Any user name and
// password are accepted.
//
// The rows are the same on every run (see generate for what they contain). ctx
// bounds the start and the seeding only; the server runs until stop is called.
// stop closes the listener and the engine and may be called more than once.
//
// The engine logs through logrus's global logger; Start points that logger at
// logger, at debug level and for warnings and errors only.
func Start(ctx context.Context, logger *slog.Logger) (dsn string, stop func() error, err error) {
	begin := time.Now()
	quietLogrus(logger)

	db := memory.NewDatabase(databaseName)
	// No EnablePrimaryKeyIndexes and no secondary indexes: in this engine an
	// index lookup is a full scan per row, which turns joins from
	// milliseconds into seconds.
	provider := memory.NewDBProvider(db)
	engine := sqle.NewDefault(provider)

	srv, err := server.NewServer(server.Config{
		Protocol: "tcp",
		Address:  "127.0.0.1:0",
	}, engine, gmssql.NewContext, memory.NewSessionBuilder(provider), nil)
	if err != nil {
		engine.Close()
		return "", nil, fmt.Errorf("demo database: start server: %w", err)
	}
	addr, ok := srv.Listener.Addr().(*net.TCPAddr)
	if !ok {
		srv.Close()
		engine.Close()
		return "", nil, fmt.Errorf("demo database: unexpected listener address %v", srv.Listener.Addr())
	}

	served := make(chan struct{})
	go func() {
		defer close(served)
		// Start blocks accepting connections until the listener is closed and
		// always returns nil.
		_ = srv.Start()
	}()

	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			stopErr = srv.Close()
			<-served
			// The engine's background threads report their cancellation as
			// context.Canceled: that is the normal way to end.
			if err := engine.Close(); err != nil && !errors.Is(err, context.Canceled) && stopErr == nil {
				stopErr = fmt.Errorf("demo database: close engine: %w", err)
			}
		})
		return stopErr
	}

	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = addr.String()
	cfg.DBName = databaseName
	dsn = cfg.FormatDSN()

	users, posts, err := seed(ctx, cfg)
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("demo database: %w", err), stop())
	}
	logger.Info("demo database ready",
		"addr", cfg.Addr,
		"database", databaseName,
		"users", users,
		"posts", posts,
		"duration", time.Since(begin).Round(time.Millisecond))
	return dsn, stop, nil
}

// seed creates the tables over a connection to the running server and fills
// them. It returns how many users and posts it inserted.
func seed(ctx context.Context, cfg *mysql.Config) (users, posts int, err error) {
	// Client-side interpolation sends each batch as one text statement, which
	// is faster on this engine than a prepared statement with thousands of
	// parameters. The driver escapes the values.
	seedCfg := cfg.Clone()
	seedCfg.InterpolateParams = true
	connector, err := mysql.NewConnector(seedCfg)
	if err != nil {
		return 0, 0, fmt.Errorf("seed: %w", err)
	}
	conn := sql.OpenDB(connector)
	defer conn.Close()
	conn.SetMaxOpenConns(1)

	for _, stmt := range schema {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return 0, 0, fmt.Errorf("seed: create tables: %w", err)
		}
	}
	data := generate(referenceDate())
	if err := insertBatches(ctx, conn, "users", userColumns, data.users); err != nil {
		return 0, 0, fmt.Errorf("seed: %w", err)
	}
	if err := insertBatches(ctx, conn, "posts", postColumns, data.posts); err != nil {
		return 0, 0, fmt.Errorf("seed: %w", err)
	}
	return len(data.users), len(data.posts), nil
}

// quietLogrus routes the engine's logs, written to logrus's global logger,
// to logger at debug level, and drops everything below warnings: the engine
// logs every connection at info level and every failed query as an error,
// which the client receives anyway.
func quietLogrus(logger *slog.Logger) {
	l := logrus.StandardLogger()
	l.SetLevel(logrus.WarnLevel)
	l.SetOutput(io.Discard)
	l.ReplaceHooks(logrus.LevelHooks{})
	l.AddHook(slogHook{logger: logger})
}

// slogHook forwards logrus entries to a slog.Logger.
type slogHook struct{ logger *slog.Logger }

func (h slogHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h slogHook) Fire(e *logrus.Entry) error {
	attrs := make([]any, 0, 2+2*len(e.Data))
	attrs = append(attrs, "engine_level", e.Level.String()) // "level" is slog's own
	for k, v := range e.Data {
		attrs = append(attrs, k, v)
	}
	h.logger.Debug("demo database: "+e.Message, attrs...)
	return nil
}
