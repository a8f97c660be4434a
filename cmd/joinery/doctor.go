package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/queries"
)

// cmdDoctor is joinery doctor: the configuration's summary and, with
// --connect, the database engine detected and what each of joinery's
// features uses on it (mysqlconn.Profile), with its warnings.
func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("doctor", "doctor [--connect]", stdout, stderr)
	connect := fs.Bool("connect", false, "connect, detect the database engine and say what the run lock, statement timeout, cancellation, snapshot and streaming use on it")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	doctorSummary(cfg, stdout)
	if !*connect {
		fmt.Fprintln(stdout, "not known without --connect: the database engine and version, and so which lock,")
		fmt.Fprintln(stdout, "statement timeout, cancellation and streaming runs will use (joinery doctor --connect)")
		return nil
	}
	_, db, closeDB, err := c.connect(ctx, cfg, true, false)
	if err != nil {
		return err
	}
	defer closeDB()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	e, err := mysqlconn.Detect(ctx, mysqlconn.DBQuerier(conn))
	if err != nil {
		return err
	}
	p := e.Profile()
	fmt.Fprintf(stdout, "engine:            %s, version %s", e.Name(), e.Version)
	if e.Comment != "" {
		fmt.Fprintf(stdout, " (%s)", e.Comment)
	}
	if e.Release != "" {
		fmt.Fprintf(stdout, ", release %s", e.Release)
	}
	fmt.Fprintln(stdout)
	var lock string
	switch kind := cfg.Database.LockFor(e); kind {
	case mysqlconn.LockNamed:
		lock = "named (GET_LOCK \"joinery/<database>/<job>\")"
	case mysqlconn.LockLease:
		lock = fmt.Sprintf("lease (table %s, ttl %s)", cfg.Database.LockTable, cfg.Database.LeaseTTL)
	default:
		lock = "none: runs of a job are not kept apart"
	}
	lock += " (database.lock: " + cfg.Database.Lock + ")"
	if cfg.Database.Lock == jobs.LockAuto && p.LockReason != "" {
		lock += "; the lease because " + p.LockReason
	}
	fmt.Fprintf(stdout, "lock:              %s\n", lock)
	if cfg.Database.Lock == jobs.LockNamed && p.Lock == mysqlconn.LockLease {
		// The operator chose named locks where they do not keep runs apart.
		fmt.Fprintf(stdout, "warning: database.lock: named, but %s: database.lock: auto or lease would use the lease\n", p.LockReason)
	}
	if cfg.Database.LockFor(e) == mysqlconn.LockLease {
		doctorLease(ctx, db, cfg.Database, stdout)
	}
	timeout := p.StatementTimeout
	switch timeout {
	case mysqlconn.TimeoutMaxStatementTime:
		timeout += " (seconds)"
	case mysqlconn.TimeoutMaxExecutionTime:
		timeout += " (milliseconds, SELECT only)"
	case mysqlconn.TimeoutQueryTimeout:
		timeout += " (milliseconds, vtgate)"
	}
	fmt.Fprintf(stdout, "statement timeout: %s\n", timeout)
	fmt.Fprintf(stdout, "cancel:            %s\n", p.Cancel)
	fmt.Fprintf(stdout, "snapshot:          %s\n", p.Snapshot)
	fmt.Fprintf(stdout, "streaming:         %s\n", p.Streaming)
	for _, w := range p.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return nil
}

// doctorLease says whether runs can take their lease on db's server: the
// lease is a write, which a read-only server refuses (every run would
// fail), and its table is made by the first run unless it is there.
func doctorLease(ctx context.Context, db *sql.DB, d jobs.Database, stdout io.Writer) {
	for _, v := range []string{"read_only", "super_read_only"} { // the second: MySQL's only
		var ro sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT @@global."+v).Scan(&ro); err == nil && ro.Valid && ro.String != "0" && !strings.EqualFold(ro.String, "OFF") {
			fmt.Fprintf(stdout, "warning: the server is read-only (%s): the lease is a write, and runs whose account may not write there would all fail to take it; point the DSN at a writable node\n", v)
			break
		}
	}
	n, exists, err := (&mysqlconn.LeaseTable{DB: db, Table: d.LockTable}).Count(ctx)
	switch {
	case err != nil:
		fmt.Fprintf(stdout, "warning: the lease table %s cannot be read: %v\n", d.LockTable, err)
	case !exists:
		fmt.Fprintf(stdout, "lease table:       %s does not exist yet: the first run creates it (its account needs CREATE; docs/SCALE.md has the DDL)\n", d.LockTable)
	default:
		fmt.Fprintf(stdout, "lease table:       %s, %d leases\n", d.LockTable, n)
	}
}

// doctorSummary prints what the configuration says about the database
// and the runs, without connecting.
func doctorSummary(cfg *jobs.Config, stdout io.Writer) {
	jobsWord := "jobs"
	if len(cfg.Jobs) == 1 {
		jobsWord = "job"
	}
	fmt.Fprintf(stdout, "config:            %s (%d %s)\n", cfg.File, len(cfg.Jobs), jobsWord)
	db := "embedded demo database (go-mysql-server)"
	if !cfg.Database.Embedded() {
		if dsn, err := cfg.Database.ResolveDSN(); err != nil {
			db = "unresolved DSN: " + err.Error()
		} else {
			db = mysqlconn.Redact(dsn)
		}
	}
	fmt.Fprintf(stdout, "database:          %s\n", db)
	st := "none configured (database.statement_timeout; schedule applies its default)"
	if cfg.Database.StatementTimeout > 0 {
		st = cfg.Database.StatementTimeout.String() + " (database.statement_timeout)"
	}
	fmt.Fprintf(stdout, "statement_timeout: %s\n", st)
	snap, raw := 0, 0
	for _, j := range cfg.Jobs {
		if j.Snapshot == nil || *j.Snapshot {
			snap++
		}
		if slices.ContainsFunc(j.Datasets, func(d queries.Dataset) bool { return d.IsRaw() }) {
			raw++
		}
	}
	fmt.Fprintf(stdout, "jobs:              %d read one snapshot, %d with raw SQL (read-only session)\n", snap, raw)
}
