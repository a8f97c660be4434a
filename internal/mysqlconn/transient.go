package mysqlconn

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// passingCodes are the MySQL and MariaDB server errors that a later attempt
// may not meet: the server was busy, restarting or failing over, or the
// statement lost a race with another session. Any other server error says
// something about the query, the account or the server's settings, which
// the next attempt would meet again: a syntax error (1064), an unknown
// table (1146) or column (1054), access denied (1044, 1045, 1142), an
// unknown database (1049), a statement timeout (1969 on MariaDB, 3024 on
// MySQL: the same query meets the same limit), a query killed on its own
// (1317, KILL QUERY: someone stopped it on purpose, and would again), a
// host blocked for its connection errors (1129, until an administrator
// flushes hosts).
//
// Read-only servers (1290 ER_OPTION_PREVENTS_STATEMENT, 1836
// ER_READ_ONLY_MODE) are left out on purpose: joinery only reads, so a
// replica or a primary demoted in a failover runs its queries, and 1290
// also reports options that stay (--secure-file-priv,
// --skip-grant-tables). The two servers share the numbers below 1888;
// MariaDB's own start at 1900 and MySQL's at 3000, and each number here
// was checked against both.
var passingCodes = map[uint16]bool{
	// Too many connections, server-wide: others finish and free theirs.
	1040: true, // ER_CON_COUNT_ERROR
	// The account's own max_user_connections: as above, for one user.
	1203: true, // ER_TOO_MANY_USER_CONNECTIONS
	// The account's MAX_USER_CONNECTIONS or its hourly quotas
	// (MAX_QUERIES_PER_HOUR...): connections close, quotas reset each hour.
	1226: true, // ER_USER_LIMIT_REACHED
	// The server is shutting down: it is restarting, or another takes over.
	1053: true, // ER_SERVER_SHUTDOWN
	// offline_mode: an administrator took the server offline for
	// maintenance and will bring it back.
	3032: true, // ER_SERVER_OFFLINE_MODE (MySQL; the same number on MariaDB)
	// Galera: "WSREP has not yet prepared node for application use", a node
	// joining, resyncing or cut off from the primary component. joinery
	// sends no command the server could not know, so on Galera this is
	// the only meaning it can have.
	1047: true, // ER_UNKNOWN_COM_ERROR
	// Lock waits lost to writers, and deadlocks (also Galera's
	// certification conflicts): the server itself says to try again.
	1205: true, // ER_LOCK_WAIT_TIMEOUT
	1213: true, // ER_LOCK_DEADLOCK
	1689: true, // ER_LOCK_ABORTED: waited behind an exclusive lock (DDL)
	// A table's definition changed under the statement (DDL, or ANALYZE
	// on a table in use): "please retry transaction", and preparing the
	// statement again on the next attempt sees the new definition.
	1412: true, // ER_TABLE_DEF_CHANGED
	1615: true, // ER_NEED_REPREPARE
	// The session was killed: by an administrator, a failover tool or a
	// proxy recycling connections. joinery's own KILL on cancellation
	// never gets here: the run's error is then its cancellation.
	1927: true, // ER_CONNECTION_KILLED (MariaDB; MySQL has no 1927)
	// MySQL 8.0.24 and later closes a connection idle past wait_timeout
	// with this error; a new connection is fine. On MariaDB 4031 is
	// ER_REFERENCED_TRG_DOES_NOT_EXIST, which only CREATE TRIGGER can
	// return, never joinery's SELECTs.
	4031: true, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL)
	// The server is short of memory, threads or transaction slots under
	// the load of the moment. (Out of sort memory, 1038, is left out: it
	// comes from sort_buffer_size and the query, which do not change.)
	1037: true, // ER_OUTOFMEMORY
	1041: true, // ER_OUT_OF_RESOURCES
	1135: true, // ER_CANT_CREATE_THREAD
	1637: true, // ER_TOO_MANY_CONCURRENT_TRXS
	// The server's side of the network failed or timed out.
	1158: true, // ER_NET_READ_ERROR
	1159: true, // ER_NET_READ_INTERRUPTED
	1160: true, // ER_NET_ERROR_ON_WRITE
	1161: true, // ER_NET_WRITE_INTERRUPTED
	// Client codes for a lost server. go-sql-driver/mysql reports a lost
	// connection as mysql.ErrInvalidConn, but a proxy that loses its
	// backend may send them in an error packet (ProxySQL does).
	2006: true, // CR_SERVER_GONE_ERROR
	2013: true, // CR_SERVER_LOST
	// ProxySQL: no backend of the hostgroup answered in time, as during a
	// failover (also when the hostgroup is misconfigured, which costs only
	// the retries).
	9001: true, // "Max connect timeout reached while reaching hostgroup"
}

// passingErrnos are the socket errors, met by a network operation, after
// which a new connection may succeed: the server is not listening yet
// (restarting), dropped the connection, or the network between is down
// for a while.
var passingErrnos = []error{
	syscall.ECONNREFUSED,
	syscall.ECONNRESET,
	syscall.ECONNABORTED,
	syscall.EPIPE, // writing to a connection the server has closed
	syscall.ETIMEDOUT,
	syscall.EHOSTUNREACH,
	syscall.ENETUNREACH,
	syscall.ENETDOWN,
	syscall.EHOSTDOWN,
}

// Transient reports whether err, met talking to the server, may not be met
// again by a new connection and a new attempt of the same statements. It
// is an allow-list: an error is transient only when it is known to pass.
//
//   - MySQL and MariaDB server errors listed in passingCodes: too many
//     connections, shutdown, lock wait timeouts and deadlocks, a killed
//     connection, resources short for a while, a Galera node not ready.
//   - A connection dropped by the server or the network, as the driver
//     reports it: driver.ErrBadConn, mysql.ErrInvalidConn,
//     io.ErrUnexpectedEOF. The driver reports its read timeout the same
//     way, so a query slower than that timeout is transient too.
//   - Network errors: connection refused, reset or aborted, a broken
//     pipe, a host or network unreachable or down, a connection that timed
//     out (while dialling, or writing to a server that no longer reads),
//     and a DNS lookup that timed out or failed for a while. A host name
//     that does not exist is permanent.
//
// Everything else is not: server errors outside the list (syntax, unknown
// table or column, access denied, statement timeout), file system errors
// and any error that is not the server's or the network's. Whether a run
// retries is jobs' policy (jobs.Retryable), which asks this.
func Transient(err error) bool {
	if me, ok := errors.AsType[*mysql.MySQLError](err); ok {
		return passingCodes[me.Number]
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if de, ok := errors.AsType[*net.DNSError](err); ok {
		return !de.IsNotFound && (de.IsTimeout || de.IsTemporary)
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		// A timeout while dialling: the server is down or the network
		// drops its packets. (A write that times out, the server no
		// longer reading, is one too; the driver reports a read timeout
		// as mysql.ErrInvalidConn.)
		if oe.Timeout() {
			return true
		}
		for _, errno := range passingErrnos {
			if errors.Is(oe.Err, errno) {
				return true
			}
		}
	}
	return false
}
