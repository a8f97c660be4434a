# shellcheck shell=bash
# SeaweedFS as the S3 server of delivery/s3's tests (sourced by .ci/run).
#
# weed is built from the Go module proxy once and cached in
# $cache/bin/weed-$seaweedfs_version: go install refuses the module (its
# go.mod has replace directives), so the module is downloaded, copied to a
# writable folder and built there. The first build takes about 5 minutes on
# two cores; later runs start the cached binary in a few seconds.

seaweedfs_version=v0.0.0-20261109003541-7506e5f91cd6
seaweedfs_bin=$cache/bin/weed-$seaweedfs_version

# seaweedfs_build builds weed into $seaweedfs_bin unless it is there.
seaweedfs_build() {
	[[ -x $seaweedfs_bin ]] && return 0
	local started=$SECONDS dir src tmp
	log "building SeaweedFS weed $seaweedfs_version (about 5 minutes, once)"
	dir=$(go mod download -json "github.com/seaweedfs/seaweedfs@$seaweedfs_version" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || return 1
	[[ -n $dir && -d $dir ]] || { log "go mod download gave no folder for seaweedfs"; return 1; }
	mkdir -p "$cache/bin"
	tmp=$(mktemp -d "$cache/bin/.weed-build.XXXXXX")
	src=$tmp/src
	cp -r "$dir" "$src" && chmod -R u+w "$src" || { rm -rf "$tmp"; return 1; }
	if ! (cd "$src" && GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 go build -o "$tmp/weed" ./weed); then
		rm -rf "$tmp"
		return 1
	fi
	mv "$tmp/weed" "$seaweedfs_bin"
	rm -rf "$tmp"
	log "built weed in $((SECONDS - started)) s: $seaweedfs_bin"
}

# The build alone (for warming the cache): JOINERY_SEAWEEDFS_BUILD_ONLY=1.
if [[ ${JOINERY_SEAWEEDFS_BUILD_ONLY:-} == 1 ]]; then
	seaweedfs_build || die "building SeaweedFS failed"
	return 0 2>/dev/null || exit 0
fi

# seaweedfs_port prints a port P on 127.0.0.1 such that P and P+10000 (where
# weed puts the gRPC side of each of its servers) are free and not taken by
# the ports already chosen ($seaweedfs_ports).
seaweedfs_ports=" "
seaweedfs_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 25000))
		[[ $seaweedfs_ports == *" $p "* || $seaweedfs_ports == *" $((p + 10000)) "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
			! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null; then
			seaweedfs_ports+="$p $((p + 10000)) "
			echo "$p"
			return
		fi
	done
	die "no free pair of ports P, P+10000 for SeaweedFS"
}

seaweedfs_build || die "building SeaweedFS failed"
if ! command -v curl >/dev/null 2>&1; then
	log "installing curl (SeaweedFS buckets are made with curl --aws-sigv4)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null; } ||
		die "installing curl failed"
fi

seaweedfs_started=$SECONDS
seaweedfs_dir=$work/seaweedfs
mkdir -p "$seaweedfs_dir/data"
seaweedfs_s3_port=$(seaweedfs_port)
seaweedfs_master_port=$(seaweedfs_port)
seaweedfs_volume_port=$(seaweedfs_port)
seaweedfs_filer_port=$(seaweedfs_port)
# A throwaway key pair: the one identity may do everything. Without an
# identity config weed allows anonymous access, and the tests of refused
# credentials would prove nothing.
seaweedfs_access_key=joinery-ci-$RANDOM$RANDOM
seaweedfs_secret_key=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
cat >"$seaweedfs_dir/s3.json" <<JSON
{"identities": [{"name": "joinery", "credentials": [{"accessKey": "$seaweedfs_access_key", "secretKey": "$seaweedfs_secret_key"}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
"$seaweedfs_bin" server -dir="$seaweedfs_dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
	-master.port="$seaweedfs_master_port" -volume.port="$seaweedfs_volume_port" \
	-filer -filer.port="$seaweedfs_filer_port" \
	-s3 -s3.port="$seaweedfs_s3_port" -s3.config="$seaweedfs_dir/s3.json" \
	-master.volumeSizeLimitMB=256 -volume.max=32 \
	>"$seaweedfs_dir/weed.log" 2>&1 &
seaweedfs_pid=$!

# seaweedfs_stop stops weed: TERM, then KILL after 5 s (it may ignore TERM
# while it flushes).
seaweedfs_stop() {
	kill -0 "$seaweedfs_pid" 2>/dev/null || return 0
	log "stopping SeaweedFS (pid $seaweedfs_pid)"
	kill -TERM "$seaweedfs_pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$seaweedfs_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$seaweedfs_pid" 2>/dev/null; then
		log "SeaweedFS did not stop in 5 s, killing it"
		kill -KILL "$seaweedfs_pid" 2>/dev/null || true
	fi
	wait "$seaweedfs_pid" 2>/dev/null || true
}
stop_hooks+=(seaweedfs_stop)

# S3 answers at once and takes buckets a few seconds later, and objects a
# few more (the first volume is made then): make the test bucket and put
# and delete an object in it, retrying for a minute, so that the tests
# start with a server that takes writes.
export JOINERY_TEST_S3_ENDPOINT=http://127.0.0.1:$seaweedfs_s3_port
export JOINERY_TEST_S3_ACCESS_KEY=$seaweedfs_access_key
export JOINERY_TEST_S3_SECRET_KEY=$seaweedfs_secret_key
export JOINERY_TEST_S3_BUCKET=joinery-test
seaweedfs_curl() {
	curl -sf -o /dev/null --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		--user "$seaweedfs_access_key:$seaweedfs_secret_key" "$@"
}
seaweedfs_bucket=false seaweedfs_ready=false
for _ in $(seq 1 120); do
	kill -0 "$seaweedfs_pid" 2>/dev/null || break
	if ! $seaweedfs_bucket; then
		seaweedfs_curl -X PUT "$JOINERY_TEST_S3_ENDPOINT/$JOINERY_TEST_S3_BUCKET" && seaweedfs_bucket=true
	fi
	if $seaweedfs_bucket &&
		seaweedfs_curl -X PUT --data-binary ready "$JOINERY_TEST_S3_ENDPOINT/$JOINERY_TEST_S3_BUCKET/.ready" &&
		seaweedfs_curl -X DELETE "$JOINERY_TEST_S3_ENDPOINT/$JOINERY_TEST_S3_BUCKET/.ready"; then
		seaweedfs_ready=true
		break
	fi
	sleep 0.5
done
if ! $seaweedfs_ready; then
	tail -n 30 "$seaweedfs_dir/weed.log" >&2
	die "SeaweedFS did not take a bucket and an object in 60 s"
fi
export JOINERY_REQUIRE_S3=1
log "SeaweedFS S3 at $JOINERY_TEST_S3_ENDPOINT, bucket $JOINERY_TEST_S3_BUCKET, up in $((SECONDS - seaweedfs_started)) s"
