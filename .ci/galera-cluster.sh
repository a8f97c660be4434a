#!/usr/bin/env bash
# shellcheck shell=bash
# A three-node MariaDB Galera cluster on 127.0.0.1: the functions that
# start and stop its nodes, sourced by .ci/servers/galera.sh (the shared
# cluster of .ci/run), and a command for a test's private cluster:
#
#   bash .ci/galera-cluster.sh DIR
#
# starts the three nodes under DIR (an empty folder), prints one line per
# node on stdout, "node N DSN PID" (DSN root@tcp(127.0.0.1:P)/, PID its
# mariadbd's), then "ready", and reads commands on stdin, one a line:
#
#   start N   starts node N again (after the test killed it) on fresh
#             ports, joining the nodes still running, and prints its
#             "node N DSN PID" line, then "ready" once it is Synced with them
#   stop, or the end of stdin
#             shuts the nodes down (killing those still running after 30 s)
#             and exits
#
# Logs go to stderr; a failure prints "error: ..." there and exits 1 after
# stopping what it started. The nodes are its children: whatever happens
# to the test, its end closes stdin, and they stop. Needs galera-4, rsync
# and mariadb-server (.ci/servers/galera.sh installs galera-4 and rsync).
#
# Every node has its own client port, Galera group (gmcast), IST and SST
# ports, datadir, tmpdir and socket under DIR/nN: the first bootstraps the
# cluster (--wsrep-new-cluster) from a datadir made by mariadb-install-db,
# the others start empty and get it by rsync SST, one after the other.
# Nothing of a MariaDB already on the machine (config, datadir, port,
# systemd) is read or changed. As root the nodes run as the mysql user
# (Debian's mariadb-server makes it; a system user joinery-galera is made
# when it is missing), owning their folders: rsync SST started by root
# runs its daemon as nobody, which cannot write the joiner's 0700 datadir.
# DIR is made traversable (o+x, not listable) for that user; its parents
# must be too (/tmp is).

galera_provider=/usr/lib/galera/libgalera_smm.so
galera_name=joinery-ci
galera_work=""
galera_user=$(id -un)
galera_as_user=()
galera_pids=("" "" "")
galera_ports=("" "" "")
galera_gmcast=("" "" "")

# galera_node_dir N prints node N's folder (N from 1).
galera_node_dir() { echo "$galera_work/n$1"; }

# galera_sql N QUERY runs QUERY on node N through its socket and prints
# the rows tab-separated, without column names.
galera_sql() {
	mariadb --no-defaults --socket="$(galera_node_dir "$1")/mysqld.sock" -uroot \
		--connect-timeout=2 -N -B -e "$2" 2>/dev/null
}

# galera_status N VAR prints the global status variable VAR of node N.
galera_status() {
	galera_sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" | cut -f2
}

# galera_port sets galera_next to a free port that it has not handed out
# before (free_port may give one twice, as it only asks the kernel). It
# sets a variable instead of printing: $(...) would lose galera_taken.
galera_taken=" "
galera_next=""
galera_port() {
	local p
	for _ in $(seq 1 20); do
		p=$(free_port)
		if [[ $galera_taken != *" $p "* ]]; then
			galera_taken+="$p "
			galera_next=$p
			return
		fi
	done
	die "no free port for Galera"
}

# galera_alive N says whether node N's mariadbd is running (not a zombie
# left for its parent to reap).
galera_alive() {
	local pid=${galera_pids[$1 - 1]} state
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
	[[ $state != Z ]]
}

# galera_start N starts node N in the background on fresh ports, joining
# the nodes that run (bootstrapping the cluster when none does), and waits
# until it is Synced in a cluster of them all. It returns 1 when mariadbd
# exits early (a port taken in the meantime) and exits the script on a
# timeout.
galera_start() {
	local n=$1 i=$(($1 - 1)) dir port gmcast ist sst members=() size=1 address extra=()
	dir=$(galera_node_dir "$n")
	for ((j = 1; j <= 3; j++)); do
		if ((j != n)) && galera_alive "$j"; then
			members+=("127.0.0.1:${galera_gmcast[j - 1]}")
			size=$((size + 1))
		fi
	done
	galera_port
	port=$galera_next
	galera_port
	gmcast=$galera_next
	galera_port
	ist=$galera_next
	galera_port
	sst=$galera_next
	if ((${#members[@]} == 0)); then
		extra=(--wsrep-new-cluster)
		address="gcomm://"
	else
		address="gcomm://$(IFS=,; echo "${members[*]}")"
	fi
	: >"$dir/error.log"
	if ((${#galera_as_user[@]} > 0)); then
		chown "$galera_user:" "$dir/error.log"
	fi
	log "starting Galera node $n on 127.0.0.1:$port (group $gmcast, IST $ist, SST $sst)"
	# TMPDIR too: the SST scripts use it, and the caller's may not be the
	# nodes' user's to write.
	TMPDIR="$dir/tmp" mariadbd --no-defaults "${galera_as_user[@]}" --datadir="$dir/data" --socket="$dir/mysqld.sock" \
		--port="$port" --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid" \
		--log-error="$dir/error.log" --skip-name-resolve --tmpdir="$dir/tmp" \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		--innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
		--binlog-format=ROW --default-storage-engine=InnoDB --innodb-autoinc-lock-mode=2 \
		--wsrep-on=ON --wsrep-provider="$galera_provider" --wsrep-cluster-name="$galera_name" \
		--wsrep-cluster-address="$address" --wsrep-node-name="n$n" --wsrep-node-address=127.0.0.1 \
		--wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$gmcast;ist.recv_addr=127.0.0.1:$ist;gcache.size=32M" \
		--wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:$sst" \
		"${extra[@]}" </dev/null >"$dir/mariadbd.out" 2>&1 &
	galera_pids[i]=$!
	galera_ports[i]=$port
	galera_gmcast[i]=$gmcast
	local deadline=$((SECONDS + 120))
	while ((SECONDS < deadline)); do
		if [[ $(galera_status "$n" wsrep_ready) == ON &&
			$(galera_status "$n" wsrep_local_state_comment) == Synced &&
			$(galera_status "$n" wsrep_cluster_size) == "$size" ]]; then
			return 0
		fi
		if ! galera_alive "$n"; then
			wait "${galera_pids[i]}" 2>/dev/null || true
			galera_pids[i]=""
			return 1
		fi
		sleep 0.2
	done
	tail -n 40 "$dir/error.log" "$dir/mariadbd.out" >&2
	die "Galera node $n was not Synced within 120 s (its error log above)"
}

# galera_start_retrying N starts node N, trying up to three times on
# fresh ports, and exits the script when it cannot.
galera_start_retrying() {
	local n=$1 started
	for attempt in 1 2 3; do
		started=$SECONDS
		if galera_start "$n"; then
			log "Galera node $n synced in $((SECONDS - started)) s"
			return
		fi
		log "Galera node $n exited at start (attempt $attempt); its error log:"
		tail -n 40 "$(galera_node_dir "$n")/error.log" "$(galera_node_dir "$n")/mariadbd.out" >&2
	done
	die "could not start Galera node $n"
}

# galera_stop shuts the nodes down, the joiners first, and kills those still
# running after 30 s (by pid, never by name).
galera_stop() {
	local i pid left
	for ((i = 2; i >= 0; i--)); do
		pid=${galera_pids[i]}
		galera_alive $((i + 1)) || continue
		log "stopping Galera node $((i + 1)) (pid $pid)"
		mariadb-admin --no-defaults --socket="$(galera_node_dir $((i + 1)))/mysqld.sock" -uroot \
			--connect-timeout=5 shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
	done
	for _ in $(seq 1 300); do
		left=false
		for i in 1 2 3; do
			galera_alive "$i" && left=true
		done
		$left || break
		sleep 0.1
	done
	for ((i = 0; i < 3; i++)); do
		pid=${galera_pids[i]}
		[[ -n $pid ]] || continue
		if galera_alive $((i + 1)); then
			log "Galera node $((i + 1)) did not stop in 30 s, killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
		galera_pids[i]=""
	done
}

# galera_cluster_start DIR starts the three nodes under DIR and waits
# until every node says wsrep_ready=ON, wsrep_local_state_comment=Synced
# and wsrep_cluster_size=3. The caller stops them with galera_stop.
galera_cluster_start() {
	galera_work=$1
	if [[ $(id -u) -eq 0 ]]; then
		galera_user=mysql
		if ! getent passwd "$galera_user" >/dev/null; then
			galera_user=joinery-galera
			getent passwd "$galera_user" >/dev/null ||
				useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$galera_user" ||
				die "could not create the system user $galera_user for the Galera nodes"
		fi
		galera_as_user=(--user="$galera_user")
		chmod o+x "$galera_work"
	fi
	for n in 1 2 3; do
		mkdir -p "$galera_work/n$n/data" "$galera_work/n$n/tmp"
	done
	if ((${#galera_as_user[@]} > 0)); then
		chown -R "$galera_user:" "$galera_work"
	fi
	# Only the first node gets system tables: the others receive the whole
	# datadir by SST when they join.
	if ! TMPDIR="$(galera_node_dir 1)/tmp" mariadb-install-db --no-defaults "${galera_as_user[@]}" --datadir="$(galera_node_dir 1)/data" \
		--auth-root-authentication-method=normal --skip-test-db >"$galera_work/install.log" 2>&1; then
		cat "$galera_work/install.log" >&2
		die "mariadb-install-db failed for Galera node 1"
	fi
	if ((${#galera_as_user[@]} > 0)); then
		chown -R "$galera_user:" "$galera_work"
	fi
	for n in 1 2 3; do
		galera_start_retrying "$n"
	done
	for n in 1 2 3; do
		[[ $(galera_status "$n" wsrep_cluster_size) == 3 && $(galera_status "$n" wsrep_ready) == ON ]] ||
			die "Galera node $n does not see a ready cluster of 3"
	done
}

# galera_dsn N prints node N's DSN.
galera_dsn() { echo "root@tcp(127.0.0.1:${galera_ports[$1 - 1]})/"; }

[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0

# --- the command: a private cluster driven through stdin ---------------------

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=.ci/lib.sh
source .ci/lib.sh
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
(($# == 1)) && [[ -d $1 ]] || die "usage: bash .ci/galera-cluster.sh DIR (an existing, empty folder)"
[[ -e $galera_provider ]] || die "$galera_provider not found: install galera-4"
# stdout carries the answers only: fd 3 is it, logs go to stderr.
exec 3>&1 1>&2
trap galera_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
started=$SECONDS
# Another name than the shared cluster's, which may run beside it.
galera_name=joinery-private
galera_cluster_start "$(cd "$1" && pwd)"
log "private Galera cluster in $galera_work ready in $((SECONDS - started)) s"
for n in 1 2 3; do
	echo "node $n $(galera_dsn "$n") ${galera_pids[n - 1]}" >&3
done
echo ready >&3
while read -r cmd arg; do
	case $cmd in
	start)
		[[ $arg == [123] ]] || die "start $arg: no such node"
		! galera_alive "$arg" || die "start $arg: node $arg is running"
		wait "${galera_pids[arg - 1]}" 2>/dev/null || true
		galera_pids[arg - 1]=""
		galera_start_retrying "$arg"
		echo "node $arg $(galera_dsn "$arg") ${galera_pids[arg - 1]}" >&3
		echo ready >&3
		;;
	stop) break ;;
	*) die "unknown command: $cmd $arg" ;;
	esac
done
