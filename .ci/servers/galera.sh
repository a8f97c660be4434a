# shellcheck shell=bash
# A three-node MariaDB Galera cluster on 127.0.0.1 for the cluster tests
# (internal/cluster), sourced by .ci/run (which gives log, die, free_port,
# $work and stop_hooks).
#
# Installs galera-4 and rsync with apt-get when missing (with sudo when not
# root; Debian's mariadb-server, which .ci/run installs, depends on both,
# and on iproute2 for the SST script's ss), then starts
# three mariadbd with wsrep on, each with its own client port, Galera group
# (gmcast), IST and SST ports, datadir, tmpdir and socket under
# $work/galera: the first bootstraps the cluster (--wsrep-new-cluster) from
# a datadir made by mariadb-install-db, the others start empty and get it
# by rsync SST, one after the other. Nothing of a MariaDB already on the
# machine (config, datadir, port, systemd) is read or changed.
#
# As root the nodes run as the mysql user (Debian's mariadb-server makes
# it; a system user joinery-galera is made when it is missing), owning
# their folders: rsync SST started by root runs its daemon as nobody,
# which cannot write the joiner's 0700 datadir. $work is made traversable
# (o+x, not listable) for that user.
#
# Waits until every node says wsrep_ready=ON, wsrep_local_state_comment=
# Synced and wsrep_cluster_size=3, and exports
#
#   JOINERY_GALERA_DSNS=root@tcp(127.0.0.1:P1)/,root@tcp(127.0.0.1:P2)/,root@tcp(127.0.0.1:P3)/
#   JOINERY_REQUIRE_CLUSTER=1   (cluster tests fail instead of skip)
#
# root logs in over TCP from 127.0.0.1 without a password, as on .ci/run's
# MariaDB. A stop hook shuts the nodes down (then kills what is left after
# 30 s). Starting the cluster takes 10 to 15 s.

galera_provider=/usr/lib/galera/libgalera_smm.so
if [[ ! -e $galera_provider ]] || ! command -v rsync >/dev/null 2>&1; then
	galera_sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "galera-4 or rsync is missing and not root: install them or run as root"
		galera_sudo=(sudo)
	fi
	log "installing galera-4 and rsync"
	"${galera_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${galera_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends galera-4 rsync >/dev/null
	[[ -e $galera_provider ]] || die "$galera_provider not found after installing galera-4"
fi

galera_started=$SECONDS
galera_work=$work/galera
galera_user=$(id -un)
galera_as_user=()
if [[ $(id -u) -eq 0 ]]; then
	galera_user=mysql
	if ! getent passwd "$galera_user" >/dev/null; then
		galera_user=joinery-galera
		getent passwd "$galera_user" >/dev/null ||
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$galera_user" ||
			die "could not create the system user $galera_user for the Galera nodes"
	fi
	galera_as_user=(--user="$galera_user")
	chmod o+x "$work"
fi

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

# galera_start N starts node N in the background on fresh ports and waits
# until it is Synced with the nodes before it. It returns 1 when mariadbd
# exits early (a port taken in the meantime) and exits the script on a
# timeout.
galera_start() {
	local n=$1 i=$(($1 - 1)) dir port gmcast ist sst address="gcomm://" extra=()
	dir=$(galera_node_dir "$n")
	galera_port
	port=$galera_next
	galera_port
	gmcast=$galera_next
	galera_port
	ist=$galera_next
	galera_port
	sst=$galera_next
	if ((n == 1)); then
		extra=(--wsrep-new-cluster)
	else
		address="gcomm://127.0.0.1:${galera_gmcast[0]}"
		for ((j = 1; j < i; j++)); do
			address+=",127.0.0.1:${galera_gmcast[j]}"
		done
	fi
	: >"$dir/error.log"
	if ((${#galera_as_user[@]} > 0)); then
		chown "$galera_user:" "$dir/error.log"
	fi
	log "starting Galera node $n on 127.0.0.1:$port (group $gmcast, IST $ist, SST $sst)"
	mariadbd --no-defaults "${galera_as_user[@]}" --datadir="$dir/data" --socket="$dir/mysqld.sock" \
		--port="$port" --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid" \
		--log-error="$dir/error.log" --skip-name-resolve --tmpdir="$dir/tmp" \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		--innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
		--binlog-format=ROW --default-storage-engine=InnoDB --innodb-autoinc-lock-mode=2 \
		--wsrep-on=ON --wsrep-provider="$galera_provider" --wsrep-cluster-name=joinery-ci \
		--wsrep-cluster-address="$address" --wsrep-node-name="n$n" --wsrep-node-address=127.0.0.1 \
		--wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$gmcast;ist.recv_addr=127.0.0.1:$ist;gcache.size=32M" \
		--wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:$sst" \
		"${extra[@]}" >"$dir/mariadbd.out" 2>&1 &
	galera_pids[i]=$!
	galera_ports[i]=$port
	galera_gmcast[i]=$gmcast
	local deadline=$((SECONDS + 120))
	while ((SECONDS < deadline)); do
		if [[ $(galera_status "$n" wsrep_ready) == ON &&
			$(galera_status "$n" wsrep_local_state_comment) == Synced &&
			$(galera_status "$n" wsrep_cluster_size) == "$n" ]]; then
			return 0
		fi
		if ! kill -0 "${galera_pids[i]}" 2>/dev/null; then
			wait "${galera_pids[i]}" 2>/dev/null || true
			galera_pids[i]=""
			return 1
		fi
		sleep 0.2
	done
	tail -n 40 "$dir/error.log" "$dir/mariadbd.out" >&2
	die "Galera node $n was not Synced within 120 s (its error log above)"
}

# galera_stop shuts the nodes down, the joiners first, and kills those still
# running after 30 s (by pid, never by name).
galera_stop() {
	local i pid left
	for ((i = 2; i >= 0; i--)); do
		pid=${galera_pids[i]}
		[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || continue
		log "stopping Galera node $((i + 1)) (pid $pid)"
		mariadb-admin --no-defaults --socket="$(galera_node_dir $((i + 1)))/mysqld.sock" -uroot \
			--connect-timeout=5 shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
	done
	for _ in $(seq 1 300); do
		left=false
		for pid in "${galera_pids[@]}"; do
			[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && left=true
		done
		$left || break
		sleep 0.1
	done
	for ((i = 0; i < 3; i++)); do
		pid=${galera_pids[i]}
		[[ -n $pid ]] || continue
		if kill -0 "$pid" 2>/dev/null; then
			log "Galera node $((i + 1)) did not stop in 30 s, killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
		galera_pids[i]=""
	done
}
stop_hooks+=(galera_stop)

for n in 1 2 3; do
	dir=$(galera_node_dir "$n")
	mkdir -p "$dir/data" "$dir/tmp"
done
# Only the first node gets system tables: the others receive the whole
# datadir by SST when they join.
if ! mariadb-install-db --no-defaults "${galera_as_user[@]}" --datadir="$(galera_node_dir 1)/data" \
	--auth-root-authentication-method=normal --skip-test-db >"$galera_work/install.log" 2>&1; then
	cat "$galera_work/install.log" >&2
	die "mariadb-install-db failed for Galera node 1"
fi
if ((${#galera_as_user[@]} > 0)); then
	chown -R "$galera_user:" "$galera_work"
fi

for n in 1 2 3; do
	started=false
	for attempt in 1 2 3; do
		node_started=$SECONDS
		if galera_start "$n"; then
			started=true
			log "Galera node $n synced in $((SECONDS - node_started)) s"
			break
		fi
		log "Galera node $n exited at start (attempt $attempt); its error log:"
		tail -n 40 "$(galera_node_dir "$n")/error.log" "$(galera_node_dir "$n")/mariadbd.out" >&2
	done
	$started || die "could not start Galera node $n"
done
for n in 1 2 3; do
	[[ $(galera_status "$n" wsrep_cluster_size) == 3 && $(galera_status "$n" wsrep_ready) == ON ]] ||
		die "Galera node $n does not see a ready cluster of 3"
done

JOINERY_GALERA_DSNS="root@tcp(127.0.0.1:${galera_ports[0]})/,root@tcp(127.0.0.1:${galera_ports[1]})/,root@tcp(127.0.0.1:${galera_ports[2]})/"
export JOINERY_GALERA_DSNS
export JOINERY_REQUIRE_CLUSTER=1
log "Galera cluster of 3 ($(galera_sql 1 'SELECT VERSION()'), $(galera_status 1 wsrep_provider_version)) ready in $((SECONDS - galera_started)) s: JOINERY_GALERA_DSNS=$JOINERY_GALERA_DSNS"
