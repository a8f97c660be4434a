# shellcheck shell=bash
# SFTP: OpenSSH's sshd from Debian on a free 127.0.0.1 port, sourced by
# .ci/run (which gives log, die, free_port, $work and stop_hooks).
#
# Installs openssh-server with apt-get when /usr/sbin/sshd is missing (with
# sudo when not root), then runs sshd as the current user (root in CI) with
# a throwaway configuration under $work/sshd: a host key and a client key
# generated here, the client key as the only authorized key, the internal
# SFTP server, no PAM and no password logins (a password login would need
# a password on a system user, which this script never touches; the
# password path of delivery/sftp is tested against an SSH server in the
# test instead). Nothing of the machine's own sshd (config, keys, port
# 22, systemd) is read or changed. Exports
#
#   JOINERY_TEST_SFTP_ADDR=127.0.0.1:PORT
#   JOINERY_TEST_SFTP_USER       the current user, the login
#   JOINERY_TEST_SFTP_KEY        the client's private key (no passphrase)
#   JOINERY_TEST_SFTP_HOST_KEY   the server's public key line, to pin
#   JOINERY_TEST_SFTP_DIR        an empty folder to upload to (absolute;
#                                the server is local, so tests read it back)
#   JOINERY_REQUIRE_SFTP=1       (SFTP tests fail instead of skip)
#
# and stops sshd in a stop hook. Starting it costs well under a second
# (plus the install, about 5 s, the first time).

sshd_bin=/usr/sbin/sshd
if [[ ! -x $sshd_bin ]] || ! command -v ssh-keygen >/dev/null 2>&1; then
	sshd_sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "openssh-server is missing and not root: install it or run as root"
		sshd_sudo=(sudo)
	fi
	log "installing openssh-server"
	"${sshd_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sshd_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
	[[ -x $sshd_bin ]] || die "$sshd_bin not found after installing openssh-server"
fi

sshd_work=$work/sshd
mkdir -p "$sshd_work/upload"
ssh-keygen -q -t ed25519 -N '' -C joinery-ci-host -f "$sshd_work/host_key"
ssh-keygen -q -t ed25519 -N '' -C joinery-ci-client -f "$sshd_work/client_key"
cp "$sshd_work/client_key.pub" "$sshd_work/authorized_keys"
sshd_user=$(id -un)

# sshd as root wants its privilege separation folder; Debian's lives in
# /run, which the package's service creates and a container may lack.
if [[ $(id -u) -eq 0 ]]; then
	mkdir -p /run/sshd
	chmod 0755 /run/sshd
fi

# start_sshd PORT starts sshd in the background and waits until it
# answers with its banner. It returns 1 when sshd exits early (the port
# was taken in the meantime) and exits the script on a timeout.
start_sshd() {
	local port=$1
	cat >"$sshd_work/sshd_config" <<-EOF
		ListenAddress 127.0.0.1
		Port $port
		HostKey $sshd_work/host_key
		PidFile $sshd_work/sshd.pid
		AuthorizedKeysFile $sshd_work/authorized_keys
		AllowUsers $sshd_user
		PermitRootLogin prohibit-password
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		UseDNS no
		MaxStartups 100
		MaxSessions 100
		LogLevel VERBOSE
		Subsystem sftp internal-sftp
	EOF
	: >"$sshd_work/sshd.log"
	"$sshd_bin" -D -e -f "$sshd_work/sshd_config" >>"$sshd_work/sshd.log" 2>&1 &
	sshd_pid=$!
	local deadline=$((SECONDS + 30)) banner
	while ((SECONDS < deadline)); do
		if banner=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -c 7 <&3" 2>/dev/null) &&
			[[ $banner == SSH-2.0 ]]; then
			return 0
		fi
		if ! kill -0 "$sshd_pid" 2>/dev/null; then
			wait "$sshd_pid" 2>/dev/null || true
			sshd_pid=""
			return 1
		fi
		sleep 0.1
	done
	cat "$sshd_work/sshd.log" >&2
	die "sshd did not answer on 127.0.0.1:$port within 30 s (its log above)"
}

# stop_sshd stops the sshd started here (by its pid, never by name).
stop_sshd() {
	[[ -n ${sshd_pid:-} ]] || return 0
	if kill -0 "$sshd_pid" 2>/dev/null; then
		log "stopping sshd (pid $sshd_pid)"
		kill -TERM "$sshd_pid" 2>/dev/null || true
		wait "$sshd_pid" 2>/dev/null || true
	fi
	sshd_pid=""
}

sshd_pid=""
sshd_port=""
for attempt in 1 2 3; do
	candidate=$(free_port)
	log "starting sshd on 127.0.0.1:$candidate"
	if start_sshd "$candidate"; then
		sshd_port=$candidate
		break
	fi
	log "sshd exited at start (attempt $attempt); its log:"
	cat "$sshd_work/sshd.log" >&2
done
[[ -n $sshd_port ]] || die "could not start sshd"
stop_hooks+=(stop_sshd)

export JOINERY_TEST_SFTP_ADDR=127.0.0.1:$sshd_port
export JOINERY_TEST_SFTP_USER=$sshd_user
export JOINERY_TEST_SFTP_KEY=$sshd_work/client_key
JOINERY_TEST_SFTP_HOST_KEY=$(cat "$sshd_work/host_key.pub")
export JOINERY_TEST_SFTP_HOST_KEY
export JOINERY_TEST_SFTP_DIR=$sshd_work/upload
export JOINERY_REQUIRE_SFTP=1
log "$("$sshd_bin" -V 2>&1 | head -n1) ready on $JOINERY_TEST_SFTP_ADDR (pid $sshd_pid) for $sshd_user, uploads in $JOINERY_TEST_SFTP_DIR"
