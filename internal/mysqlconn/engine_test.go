package mysqlconn

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// answers is what one server answers to the detection's queries; a query
// it lacks is one the server does not know (Querier's nil row).
type answers map[string][]string

type tableQuerier struct {
	a     answers
	asked []string
}

func (q *tableQuerier) Row(_ context.Context, query string) ([]string, error) {
	q.asked = append(q.asked, query)
	return q.a[query], nil
}

const (
	qVersion = "SELECT VERSION(), @@version_comment"
	qWsrep   = "SHOW VARIABLES LIKE 'wsrep_on'"
	qTiDB    = "SELECT tidb_version()"
	qGR      = "SELECT COUNT(*) FROM performance_schema.replication_group_members WHERE MEMBER_STATE = 'ONLINE'"
)

// TestDetect parses what each server answers. The version strings are
// the servers' own (MySQL, MariaDB, TiDB, Vitess's default
// --mysql_server_version); PlanetScale's is as documented, not seen here.
func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a        answers
		kind     Kind
		release  string
		lock     string
		timeout  string
		warnings []string // substrings of the profile's warnings, in order
	}{
		{"mysql 8.0.36", answers{qVersion: {"8.0.36", "MySQL Community Server - GPL"}, qGR: {"0"}},
			MySQL, "", LockNamed, TimeoutMaxExecutionTime, nil},
		{"mysql 8.4", answers{qVersion: {"8.4.0", "MySQL Community Server - GPL"}},
			MySQL, "", LockNamed, TimeoutMaxExecutionTime, nil},
		{"mysql group replication", answers{qVersion: {"8.0.36", "MySQL Community Server - GPL"}, qGR: {"3"}},
			MySQL, "", LockLease, TimeoutMaxExecutionTime, []string{"Group Replication"}},
		{"percona xtradb cluster 8.0", answers{qVersion: {"8.0.35-27.1", "Percona XtraDB Cluster (GPL), Release rel27, Revision 84d9464, WSREP version 26.1.4.3"}},
			MySQLGalera, "", LockLease, TimeoutMaxExecutionTime, []string{"Galera"}},
		{"percona xtradb cluster, standalone", answers{qVersion: {"8.0.35-27.1", "Percona XtraDB Cluster (GPL), Release rel27, Revision 84d9464, WSREP version 26.1.4.3"}, qWsrep: {"wsrep_on", "OFF"}, qGR: {"0"}},
			MySQL, "", LockNamed, TimeoutMaxExecutionTime, nil},
		{"mysql-wsrep, comment silent", answers{qVersion: {"8.0.36", "Source distribution"}, qWsrep: {"wsrep_on", "ON"}},
			MySQLGalera, "", LockLease, TimeoutMaxExecutionTime, []string{"Galera"}},
		{"mariadb 10.11 debian", answers{qVersion: {"10.11.6-MariaDB-0+deb12u1", "Debian 12"}, qWsrep: {"wsrep_on", "OFF"}},
			MariaDB, "", LockNamed, TimeoutMaxStatementTime, nil},
		{"mariadb 11.4", answers{qVersion: {"11.4.2-MariaDB-ubu2404", "mariadb.org binary distribution"}},
			MariaDB, "", LockNamed, TimeoutMaxStatementTime, nil},
		{"mariadb galera 10.11", answers{qVersion: {"10.11.6-MariaDB-0+deb12u1", "Debian 12"}, qWsrep: {"wsrep_on", "ON"}},
			MariaDBGalera, "", LockLease, TimeoutMaxStatementTime, []string{"per node", "MDEV-30473"}},
		{"tidb 7.5.1", answers{qVersion: {"8.0.11-TiDB-v7.5.1", "TiDB Server (Apache License 2.0) Community Edition, MySQL 8.0 compatible"},
			qTiDB: {"Release Version: v7.5.1\nEdition: Community\nGit Commit Hash: 7d16cc79e81bbf573124df3fd9351c26963f3e70"}},
			TiDB, "v7.5.1", LockLease, TimeoutMaxExecutionTime, []string{"max-txn-ttl"}},
		{"tidb 6.0 without tidb_version", answers{qVersion: {"5.7.25-TiDB-v6.0.0", "TiDB Server (Apache License 2.0) Community Edition, MySQL 5.7 compatible"}},
			TiDB, "v6.0.0", LockLease, TimeoutMaxExecutionTime, []string{"before 6.1"}},
		{"vitess", answers{qVersion: {"8.0.30-Vitess", "MySQL Community Server - GPL"}},
			Vitess, "", LockLease, TimeoutQueryTimeout, []string{"reclaims", "not run against a Vitess server"}},
		{"planetscale", answers{qVersion: {"8.0.34-PlanetScale", "PlanetScale"}},
			Vitess, "", LockLease, TimeoutQueryTimeout, []string{"reclaims", "not run against a Vitess server"}},
		{"go-mysql-server", answers{qVersion: {"8.0.31", "Dolt"}},
			Embedded, "", LockNamed, TimeoutMaxExecutionTime, nil},
		{"unknown", answers{qVersion: {"unknown-server", ""}},
			Unknown, "", LockLease, TimeoutMaxExecutionTime, []string{"may not share named locks", "unknown engine"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &tableQuerier{a: tc.a}
			e, err := Detect(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != tc.kind || e.Release != tc.release || e.Version != tc.a[qVersion][0] {
				t.Errorf("Detect = %+v, want kind %s, release %q", e, tc.kind, tc.release)
			}
			p := e.Profile()
			if p.Lock != tc.lock || p.StatementTimeout != tc.timeout {
				t.Errorf("profile lock %s, timeout %s; want %s, %s", p.Lock, p.StatementTimeout, tc.lock, tc.timeout)
			}
			if (p.Lock == LockLease) != (p.LockReason != "") {
				t.Errorf("lock %s with reason %q", p.Lock, p.LockReason)
			}
			// The reason for the lease, then the warnings.
			said := p.Warnings
			if p.LockReason != "" {
				said = append([]string{p.LockReason}, said...)
			}
			if len(said) != len(tc.warnings) {
				t.Fatalf("lock reason and warnings %q, want %d", said, len(tc.warnings))
			}
			for i, w := range tc.warnings {
				if !strings.Contains(said[i], w) {
					t.Errorf("lock reason or warning %d = %q, want it to say %q", i, said[i], w)
				}
			}
			// Engine-specific queries go only to their engine.
			if slices.Contains(q.asked, qTiDB) != (tc.kind == TiDB) {
				t.Errorf("tidb_version() asked: %v", q.asked)
			}
			if slices.Contains(q.asked, qWsrep) != (tc.kind == MariaDB || tc.kind == MariaDBGalera || tc.kind == MySQL || tc.kind == MySQLGalera) {
				t.Errorf("wsrep_on asked: %v", q.asked)
			}
			// Classify, from the version alone, agrees but for a Galera
			// that only wsrep_on tells.
			if c := Classify(e.Version, e.Comment); c.Kind != tc.kind && (tc.kind != MariaDBGalera || c.Kind != MariaDB) && (tc.name != "mysql-wsrep, comment silent" || c.Kind != MySQL) && (tc.name != "percona xtradb cluster, standalone" || c.Kind != MySQLGalera) {
				t.Errorf("Classify = %s", c.Kind)
			}
		})
	}
}

type failingQuerier struct{}

var errDown = errors.New("connection refused")

func (failingQuerier) Row(context.Context, string) ([]string, error) { return nil, errDown }

func TestDetectFails(t *testing.T) {
	if _, err := Detect(context.Background(), failingQuerier{}); !errors.Is(err, errDown) {
		t.Fatalf("Detect = %v", err)
	}
	if _, err := Detect(context.Background(), &tableQuerier{a: answers{}}); err == nil {
		t.Fatal("Detect without a version: no error")
	}
}

// TestVitessProfile: on Vitess the run's session streams in OLAP mode,
// which has no transactions, so it reads without a snapshot, and the
// statement timeout is vtgate's own variable.
func TestVitessProfile(t *testing.T) {
	p := Classify("8.0.30-Vitess", "").Profile()
	if !strings.Contains(p.Streaming, "workload = 'olap'") || !strings.HasPrefix(p.Snapshot, "none") || p.StatementTimeout != TimeoutQueryTimeout {
		t.Errorf("vitess profile: streaming %q, snapshot %q, timeout %q", p.Streaming, p.Snapshot, p.StatementTimeout)
	}
}
