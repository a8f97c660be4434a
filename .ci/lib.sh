# shellcheck shell=bash
# Helpers shared by .ci/run and the scripts it sources or runs
# (.ci/servers/*.sh, .ci/galera-cluster.sh): log, die and free_port.

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# free_port prints a TCP port on 127.0.0.1 that nothing listens on: one the
# kernel hands out when python3 is there, else the first free one from 3306 on.
free_port() {
	if command -v python3 >/dev/null 2>&1 &&
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null; then
		return
	fi
	local p
	for p in $(seq 3306 3999); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port in 3306-3999"
}
