# shellcheck shell=bash
# Mailpit, the SMTP test server of the email destination (delivery/smtp),
# sourced by .ci/run. Two instances on free 127.0.0.1 ports, each with an
# HTTP API the tests read the messages back through, and both demanding
# SMTP authentication (a real password file, so a wrong password is
# refused) with a throwaway self-signed certificate:
#
#   JOINERY_TEST_SMTP_ADDR=127.0.0.1:PORT          STARTTLS offered (tls: starttls, and tls: none on loopback)
#   JOINERY_TEST_MAILPIT_API=http://127.0.0.1:PORT its API
#   JOINERY_TEST_SMTPS_ADDR=127.0.0.1:PORT         implicit TLS (tls: tls)
#   JOINERY_TEST_MAILPIT_SMTPS_API=http://127.0.0.1:PORT
#   JOINERY_TEST_SMTP_USER, JOINERY_TEST_SMTP_PASSWORD   the account both take
#   JOINERY_TEST_SMTP_CA=PATH                      the certificate, to trust (ca_file)
#   JOINERY_REQUIRE_SMTP=1                         (the SMTP tests fail instead of skip)
#
# mailpit is built once from the Go module proxy into $cache/bin (about
# 45 s and 35 MB; later runs reuse it); each start takes well under a
# second. Its databases live under $work.

mailpit_version=v1.33.1
mailpit_bin=$cache/bin/mailpit
# go install stamps no version into the binary ("dev"): a file beside it
# says which version it is.
if [[ ! -x $mailpit_bin || $(cat "$mailpit_bin.version" 2>/dev/null) != "$mailpit_version" ]]; then
	log "building mailpit@$mailpit_version into $cache/bin (about 45 s, once)"
	mkdir -p "$cache/bin"
	GOBIN=$cache/bin GOFLAGS=-buildvcs=false go install "github.com/axllent/mailpit@$mailpit_version" ||
		die "go install github.com/axllent/mailpit@$mailpit_version failed"
	echo "$mailpit_version" >"$mailpit_bin.version"
fi
command -v openssl >/dev/null 2>&1 || die "openssl not found: the SMTP tests need it for a throwaway certificate (apt-get install openssl)"

mailpit_dir=$work/mailpit
mkdir -p "$mailpit_dir"
# A certificate for 127.0.0.1 and localhost, valid for two days: it is
# its own CA, which the tests trust through ca_file.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=joinery test SMTP" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$mailpit_dir/key.pem" -out "$mailpit_dir/cert.pem" >/dev/null 2>&1 ||
	die "openssl could not make the SMTP test certificate"
export JOINERY_TEST_SMTP_USER=joinery
export JOINERY_TEST_SMTP_PASSWORD="mp-$(openssl rand -hex 12)"
printf '%s:%s\n' "$JOINERY_TEST_SMTP_USER" "$JOINERY_TEST_SMTP_PASSWORD" >"$mailpit_dir/auth"
export JOINERY_TEST_SMTP_CA=$mailpit_dir/cert.pem

# start_mailpit NAME EXTRA_ARGS... starts one instance on free ports and
# waits until its API answers; it sets mailpit_smtp and mailpit_api.
start_mailpit() {
	local name=$1
	shift
	local attempt smtp_port http_port pid
	for attempt in 1 2 3; do
		smtp_port=$(free_port)
		http_port=$(free_port)
		[[ $smtp_port != "$http_port" ]] || continue
		"$mailpit_bin" --quiet --disable-version-check --smtp-disable-rdns \
			--database "$mailpit_dir/$name.db" --max 5000 --max-message-size 300 \
			--listen "127.0.0.1:$http_port" --smtp "127.0.0.1:$smtp_port" \
			--smtp-auth-file "$mailpit_dir/auth" \
			--smtp-tls-cert "$mailpit_dir/cert.pem" --smtp-tls-key "$mailpit_dir/key.pem" \
			"$@" >"$mailpit_dir/$name.log" 2>&1 &
		pid=$!
		stop_hooks+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
		local deadline=$((SECONDS + 30))
		while ((SECONDS < deadline)); do
			if curl -fsS -o /dev/null "http://127.0.0.1:$http_port/readyz" 2>/dev/null &&
				(exec 3<>"/dev/tcp/127.0.0.1/$smtp_port") 2>/dev/null; then
				mailpit_smtp=127.0.0.1:$smtp_port
				mailpit_api=http://127.0.0.1:$http_port
				log "mailpit ($name) on smtp $mailpit_smtp, api $mailpit_api (pid $pid)"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		log "mailpit ($name) did not start (attempt $attempt); its log:"
		cat "$mailpit_dir/$name.log" >&2
		kill "$pid" 2>/dev/null || true
	done
	die "could not start mailpit ($name)"
}

start_mailpit starttls
export JOINERY_TEST_SMTP_ADDR=$mailpit_smtp JOINERY_TEST_MAILPIT_API=$mailpit_api
start_mailpit tls --smtp-require-tls
export JOINERY_TEST_SMTPS_ADDR=$mailpit_smtp JOINERY_TEST_MAILPIT_SMTPS_API=$mailpit_api
export JOINERY_REQUIRE_SMTP=1
