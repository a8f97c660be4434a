# shellcheck shell=bash
# Replication: a MariaDB primary and a replica of it on free 127.0.0.1
# ports, for the freshness guard's tests (jobs/freshness_test.go), sourced
# by .ci/run (which gives log, die, free_port, $work and stop_hooks, and has
# installed mariadb-server).
#
# Each server has its own datadir, socket, --tmpdir and server-id under
# $work/replica; the primary writes a binary log, the replica follows it by
# GTID (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos, START SLAVE) as a
# replication user created here. Nothing of any other MariaDB on the
# machine is read or changed. Exports
#
#   JOINERY_PRIMARY_DSN=root@tcp(127.0.0.1:P)/
#   JOINERY_REPLICA_DSN=root@tcp(127.0.0.1:R)/
#   JOINERY_REQUIRE_CLUSTER=1    (tests that need a cluster fail instead of skip)
#
# and stops both in a stop hook. It costs about 6 s (two datadirs, two
# starts).

replica_work=$work/replica
replica_pids=()

# replica_start NAME PORT ID [ARGS...] initialises a datadir for NAME and
# starts mariadbd on PORT with server-id ID and ARGS, then waits until it
# answers. It returns 1 when mariadbd exits early (the port was taken in
# the meantime) and exits the script on a timeout.
replica_start() {
	local name=$1 port=$2 id=$3
	shift 3
	local d=$replica_work/$name
	rm -rf "$d"
	mkdir -p "$d/tmp"
	if ! mariadb-install-db --no-defaults "${as_user[@]}" --datadir="$d/data" \
		--auth-root-authentication-method=normal --skip-test-db >"$d/install.log" 2>&1; then
		cat "$d/install.log" >&2
		die "mariadb-install-db failed for the $name"
	fi
	mariadbd --no-defaults "${as_user[@]}" --datadir="$d/data" --socket="$d/mysqld.sock" \
		--port="$port" --bind-address=127.0.0.1 --pid-file="$d/mariadbd.pid" \
		--log-error="$d/error.log" --skip-name-resolve --tmpdir="$d/tmp" \
		--server-id="$id" --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		--innodb-flush-log-at-trx-commit=0 "$@" >"$d/mariadbd.out" 2>&1 &
	local pid=$!
	local deadline=$((SECONDS + 60))
	while ((SECONDS < deadline)); do
		if mariadb-admin --no-defaults --socket="$d/mysqld.sock" -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
			replica_pids+=("$pid")
			eval "replica_${name}_sock=\$d/mysqld.sock"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			return 1
		fi
		sleep 0.2
	done
	cat "$d/error.log" "$d/mariadbd.out" >&2
	die "the $name did not answer on 127.0.0.1:$port within 60 s (its error log above)"
}

# replica_start_on NAME ID [ARGS...] starts NAME on a free port, three
# tries, and sets replica_NAME_port.
replica_start_on() {
	local name=$1 id=$2 attempt candidate
	shift 2
	for attempt in 1 2 3; do
		candidate=$(free_port)
		log "starting the MariaDB $name on 127.0.0.1:$candidate"
		if replica_start "$name" "$candidate" "$id" "$@"; then
			eval "replica_${name}_port=$candidate"
			return 0
		fi
		log "the $name exited at start (attempt $attempt); its error log:"
		cat "$replica_work/$name/error.log" "$replica_work/$name/mariadbd.out" >&2
	done
	die "could not start the MariaDB $name"
}

# stop_replica stops the servers started here (by their pids, never by
# name), the replica first.
stop_replica() {
	local i pid
	for ((i = ${#replica_pids[@]} - 1; i >= 0; i--)); do
		pid=${replica_pids[i]}
		kill -0 "$pid" 2>/dev/null || continue
		log "stopping MariaDB (pid $pid) of the replication pair"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 300); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	replica_pids=()
}
stop_hooks+=(stop_replica)

replica_primary_sock="" replica_replica_sock=""
replica_primary_port="" replica_replica_port=""
replica_start_on primary 1 --log-bin=mariadb-bin --binlog-format=ROW
replica_start_on replica 2 --relay-log=relay-bin --log-slave-updates=OFF

mariadb --no-defaults --socket="$replica_primary_sock" -uroot -e \
	"CREATE USER 'joinery_repl'@'127.0.0.1' IDENTIFIED BY 'joinery_repl'; GRANT REPLICATION SLAVE ON *.* TO 'joinery_repl'@'127.0.0.1'" ||
	die "could not create the replication user on the primary"
mariadb --no-defaults --socket="$replica_replica_sock" -uroot -e \
	"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$replica_primary_port, MASTER_USER='joinery_repl', MASTER_PASSWORD='joinery_repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE" ||
	die "could not start replication on the replica"

# The replica has caught up when it has applied the primary's last GTID.
replica_gtid=$(mariadb --no-defaults --socket="$replica_primary_sock" -uroot -N -e "SELECT @@gtid_binlog_pos")
if [[ $(mariadb --no-defaults --socket="$replica_replica_sock" -uroot -N -e "SELECT MASTER_GTID_WAIT('$replica_gtid', 30)") != 0 ]]; then
	mariadb --no-defaults --socket="$replica_replica_sock" -uroot -e "SHOW SLAVE STATUS\G" >&2 || true
	die "the replica did not reach the primary's $replica_gtid within 30 s (its status above)"
fi

export JOINERY_PRIMARY_DSN="root@tcp(127.0.0.1:$replica_primary_port)/"
export JOINERY_REPLICA_DSN="root@tcp(127.0.0.1:$replica_replica_port)/"
export JOINERY_REQUIRE_CLUSTER=1
log "replication ready: primary 127.0.0.1:$replica_primary_port (pid ${replica_pids[0]}), replica 127.0.0.1:$replica_replica_port (pid ${replica_pids[1]}) at GTID $replica_gtid"
