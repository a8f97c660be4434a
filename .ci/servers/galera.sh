# shellcheck shell=bash
# A three-node MariaDB Galera cluster on 127.0.0.1 for the cluster tests
# (internal/cluster, cmd/joinery's TestGalera*), sourced by .ci/run (which
# gives log, die, free_port, $work and stop_hooks).
#
# Installs galera-4 and rsync with apt-get when missing (with sudo when not
# root; Debian's mariadb-server, which .ci/run installs, depends on both,
# and on iproute2 for the SST script's ss), then starts the three nodes
# under $work/galera with .ci/galera-cluster.sh's functions (read there how
# they are set up; a test that kills a node runs that script for a cluster
# of its own), and exports
#
#   JOINERY_GALERA_DSNS=root@tcp(127.0.0.1:P1)/,root@tcp(127.0.0.1:P2)/,root@tcp(127.0.0.1:P3)/
#   JOINERY_REQUIRE_CLUSTER=1   (cluster tests fail instead of skip)
#
# root logs in over TCP from 127.0.0.1 without a password, as on .ci/run's
# MariaDB. A stop hook shuts the nodes down (then kills what is left after
# 30 s). Starting the cluster takes 10 to 15 s.

# shellcheck source=.ci/galera-cluster.sh
source .ci/galera-cluster.sh

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
mkdir -p "$work/galera"
# The nodes' user (the mysql user as root) goes through $work to its folder.
[[ $(id -u) -ne 0 ]] || chmod o+x "$work"
stop_hooks+=(galera_stop)
galera_cluster_start "$work/galera"
JOINERY_GALERA_DSNS="$(galera_dsn 1),$(galera_dsn 2),$(galera_dsn 3)"
export JOINERY_GALERA_DSNS
export JOINERY_REQUIRE_CLUSTER=1
log "Galera cluster of 3 ($(galera_sql 1 'SELECT VERSION()'), $(galera_status 1 wsrep_provider_version)) ready in $((SECONDS - galera_started)) s: JOINERY_GALERA_DSNS=$JOINERY_GALERA_DSNS"
