#!/usr/bin/env bash
# rgw.sh - throw-away single-node Ceph RADOS Gateway (S3) on 127.0.0.1 for goldgate's S3 tests.
#
#   rgw.sh start   [DIR] [--port N] [--mon-port N] [--owner-pid PID]
#                                                   bootstrap (or resume) mon + osd + rgw under DIR, print env lines;
#                                                   with --owner-pid, DIR is destroyed once PID has exited
#   rgw.sh env     DIR                              print the env lines again
#   rgw.sh status  DIR                              show daemons / health / S3 reachability (exit 0 = all up)
#   rgw.sh stop    DIR                              stop the daemons started for DIR (recorded PIDs only), data kept
#   rgw.sh purge   DIR                              stop, then delete DIR
#   rgw.sh destroy DIR                              SIGKILL the daemons of DIR and delete DIR (fast; data lost)
#
# Env (flags win): RGW_PORT (S3 port, default 7480), MON_PORT (monitor port, default 6789),
#   RGW_MEMSTORE_BYTES (OSD capacity, default 2 GiB), RGW_START_TIMEOUT (seconds, default 180),
#   RGW_ACCESS_KEY / RGW_SECRET_KEY (credentials of the S3 user; fixed test defaults below).
#
# stdout of `start`/`env` carries only KEY=VALUE lines (eval-able, dotenv- and $GITHUB_ENV-compatible);
# all progress goes to stderr. Everything lives in DIR; nothing is written to /etc/ceph or /var/lib/ceph.
# Packages: `node scripts/test-deps.mjs` (npm pretest) installs them; this script also installs them
# when missing (root needed only then).
#
# Adapted from the shared local-s3 recipe (Ceph 16.2.15, Debian 12); this copy stands alone.
set -Eeuo pipefail

PKGS=(radosgw ceph-mon ceph-osd)
S3_USER=local-s3-test
DEFAULT_ACCESS_KEY=LOCALS3TESTACCESSKEY
DEFAULT_SECRET_KEY=localS3TestSecretKey0123456789abcdefghij
S3_REGION=us-east-1

log() { printf '[rgw.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------- arguments
CMD=${1:-}; [ -n "$CMD" ] || usage; shift
DIR=""; ARG_PORT=""; ARG_MON_PORT=""; OWNER_PID=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) ARG_PORT=${2:?--port needs a value}; shift 2 ;;
    --port=*) ARG_PORT=${1#*=}; shift ;;
    --mon-port) ARG_MON_PORT=${2:?--mon-port needs a value}; shift 2 ;;
    --mon-port=*) ARG_MON_PORT=${1#*=}; shift ;;
    --owner-pid) OWNER_PID=${2:?--owner-pid needs a value}; shift 2 ;;
    --owner-pid=*) OWNER_PID=${1#*=}; shift ;;
    -h|--help) usage ;;
    -*) die "unknown option $1" ;;
    *) [ -z "$DIR" ] || die "only one DIR allowed"; DIR=$1; shift ;;
  esac
done

# ---------------------------------------------------------------- helpers
set_paths() {
  DIR=$(cd "$DIR" && pwd -P)
  CONF=$DIR/ceph.conf
  STATE=$DIR/state.env
  PIDS=$DIR/pids
  LOGS=$DIR/log
}

load_state() {
  [ -f "$STATE" ] || die "$DIR is not a rgw.sh directory (no state.env)"
  # shellcheck disable=SC1090
  . "$STATE"
}

ceph_() { timeout 30 ceph -c "$CONF" --connect-timeout 20 "$@"; }
rgwadmin() { timeout 60 radosgw-admin -c "$CONF" "$@"; }

# pid of daemon $1 if it is alive AND really ours (cmdline mentions our ceph.conf); empty otherwise
live_pid() {
  local f=$PIDS/$1.pid pid cmd
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  if [[ "$cmd" == *" -c $CONF "* ]]; then echo "$pid"; fi
}

STARTED_NOW=()
launch() { # name cmd...
  local name=$1; shift
  mkdir -p "$PIDS" "$LOGS"
  # setsid: own session, so a Ctrl-C / SIGHUP of the calling shell does not hit the daemons.
  # All fds go to files: a caller doing "$(rgw.sh start)" must not wait on the daemons' stdout.
  setsid "$@" </dev/null >>"$LOGS/$name.out" 2>&1 &
  echo $! >"$PIDS/$name.pid"
  STARTED_NOW+=("$name")
  log "started $name (pid $!)"
}

# running = /proc entry exists and is not a zombie (the daemons' parent is init, which may reap late)
# (the state follows the last ')' of /proc/PID/stat: the command name in parentheses may hold spaces)
alive() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) && [ -n "$st" ] && [ "$st" != Z ]; }

SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")

# With --owner-pid: a detached watcher destroys DIR once the owner (a test process) is gone, so a
# killed or crashed test run never leaves daemons behind. It exits by itself when DIR disappears.
start_watchdog() {
  [ -n "$OWNER_PID" ] || return 0
  [[ "$OWNER_PID" =~ ^[0-9]+$ ]] || die "--owner-pid must be a process id"
  alive "$OWNER_PID" || die "owner process $OWNER_PID is not running"
  local f=$PIDS/watchdog.pid
  if [ -f "$f" ] && alive "$(cat "$f")"; then return 0; fi
  setsid bash -c '
    owner=$1 dir=$2 script=$3
    running() { local st; st=$(sed "s/.*) //" "/proc/$1/stat" 2>/dev/null | cut -d" " -f1); [ -n "$st" ] && [ "$st" != Z ]; }
    while running "$owner" && [ -d "$dir" ]; do sleep 1; done
    if [ -d "$dir" ]; then echo "owner $owner gone: destroying $dir"; exec "$script" destroy "$dir"; fi
  ' rgw-watchdog "$OWNER_PID" "$DIR" "$SCRIPT" </dev/null >>"$LOGS/watchdog.out" 2>&1 &
  echo $! >"$f"
  log "watchdog (pid $!) destroys $DIR when process $OWNER_PID exits"
}

kill_one() { # name: SIGKILL, for throw-away clusters whose data nobody wants back
  local name=$1 pid i
  pid=$(live_pid "$name")
  if [ -z "$pid" ]; then rm -f "$PIDS/$name.pid"; return 0; fi
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  rm -f "$PIDS/$name.pid"
  log "killed $name (pid $pid)"
}

stop_one() { # name
  local name=$1 pid i
  pid=$(live_pid "$name")
  if [ -z "$pid" ]; then rm -f "$PIDS/$name.pid"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then log "$name (pid $pid) ignored SIGTERM for 15s, sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  rm -f "$PIDS/$name.pid"
  log "stopped $name (pid $pid)"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # description timeout_s command...
  local what=$1 t=$2; shift 2
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || { log "timed out after ${t}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

osd_up() { local j; j=$(ceph_ osd stat -f json) && [[ "$j" == *'"num_up_osds":1'* ]]; }
http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@" || true; }
s3_anon_up() { [ "$(http_code "http://127.0.0.1:$RGW_PORT/")" = 200 ]; }
s3_signed_ok() {
  # RGW rejects SigV4 without x-amz-content-sha256, which curl does not add by itself (sha256 of empty body)
  [ "$(http_code --aws-sigv4 "aws:amz:$S3_REGION:s3" -u "$ACCESS_KEY:$SECRET_KEY" \
       -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
       "http://127.0.0.1:$RGW_PORT/")" = 200 ]
}

# signed S3 request with curl: s3curl METHOD PATH [curl args...]; prints "<body>\n<http code>"
s3curl() {
  local m=$1 path=$2; shift 2
  curl -s -m 30 -X "$m" --aws-sigv4 "aws:amz:$S3_REGION:s3" -u "$ACCESS_KEY:$SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -w '\n%{http_code}' "$@" "http://127.0.0.1:$RGW_PORT$path"
}

# RGW creates the bucket index/data/non-ec pools lazily, which makes the first CreateBucket, PutObject
# and CreateMultipartUpload of a fresh cluster take ~2 s each. Do that once here instead of in the tests.
warm_up() {
  # (runs in an || context, where set -e is off: every step checks explicitly)
  local b=/local-s3-warmup out upload
  s3curl PUT "$b" | tail -n1 | grep -qx 200 || return 1
  s3curl PUT "$b/obj" --data-binary warmup | tail -n1 | grep -qx 200 || return 1
  # "uploads=" not "uploads": curl's SigV4 canonical query needs the "=" to match what RGW computes
  out=$(s3curl POST "$b/mpu?uploads=") || return 1
  upload=$(printf '%s' "$out" | sed -n 's:.*<UploadId>\([^<]*\)</UploadId>.*:\1:p')
  [ -n "$upload" ] || return 1
  s3curl DELETE "$b/mpu?uploadId=$upload" | tail -n1 | grep -qx 204 || return 1
  s3curl DELETE "$b/obj" | tail -n1 | grep -qx 204 || return 1
  s3curl DELETE "$b" | tail -n1 | grep -qx 204 || return 1
}

print_env() {
  cat <<EOF
LOCAL_S3_DIR=$DIR
S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
S3_ACCESS_KEY_ID=$ACCESS_KEY
S3_SECRET_ACCESS_KEY=$SECRET_KEY
S3_REGION=$S3_REGION
S3_FORCE_PATH_STYLE=true
EOF
}

ensure_packages() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  command -v curl >/dev/null || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}) and not root: run 'sudo node scripts/test-deps.mjs' (or apt-get install ${PKGS[*]} curl)"
  local t0=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the package lists do not know the packages yet
  local policy need_update=0
  for p in "${missing[@]}"; do
    policy=$(apt-cache policy "$p" 2>/dev/null || true)
    [[ "$policy" == *"Candidate: "[0-9]* ]] || need_update=1
  done
  if [ "$need_update" = 1 ]; then
    log "apt-get update (package lists do not know ${missing[*]})"
    apt-get update -q >&2
  fi
  log "apt-get install ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
    { log "install failed, retrying after apt-get update"; apt-get update -q >&2; apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
  log "packages installed in $((SECONDS - t0))s"
}

write_conf() {
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$CONF" <<EOF
# generated by rgw.sh - single node, no auth, in-memory OSD; for tests only
[global]
fsid = $fsid
mon_host = [v1:127.0.0.1:$MON_PORT]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv4 = true
ms_bind_ipv6 = false
ms_bind_msgr2 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
keyring = $DIR/keyring
run_dir = $DIR/run
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.pid
log_file = $LOGS/\$name.log
crash_dir = $DIR/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
mon_data_avail_warn = 2
mon_data_avail_crit = 1
osd_crush_chooseleaf_type = 0

[mon.a]
mon_data = $DIR/mon/a
# commit map changes every 0.1 s instead of 1 s: radosgw creates ~9 pools one after the other
paxos_propose_interval = 0.1

[osd.0]
osd_data = $DIR/osd/0
osd_objectstore = memstore
memstore_device_bytes = $MEMSTORE_BYTES
# save the in-memory store to osd_data on SIGTERM so that stop + start resumes with data
osd_fast_shutdown = false
# crush placement is done once by rgw.sh; the on-start crush/device-class updates are mon commands
# that sometimes race the monmap and fail with "wrong fsid", leaving the OSD hanging in init
osd_crush_update_on_start = false
osd_class_update_on_start = false
osd_max_object_name_len = 460
osd_max_object_namespace_len = 64

[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_data = $DIR/rgw
# free deleted objects' tails after ~1 min instead of 2 h (memory is the disk here)
rgw_gc_obj_min_wait = 60
rgw_gc_processor_period = 60
EOF
}

on_start_exit() {
  local rc=$? f n
  [ "${START_OK:-1}" = 1 ] && return 0
  log "start failed (rc=$rc); log tails:"
  for f in "$LOGS"/*.out "$LOGS"/*.log; do
    if [ -s "$f" ]; then echo "--- $f" >&2; tail -n 15 "$f" >&2; fi
  done
  for n in rgw osd mon; do
    case " ${STARTED_NOW[*]:-} " in *" $n "*) stop_one "$n" ;; esac
  done
  log "daemons started by this call were stopped; $DIR kept for inspection"
  exit 1
}

# ---------------------------------------------------------------- commands
cmd_start() {
  local t_start=$SECONDS
  if [ -z "$DIR" ]; then DIR=$(mktemp -d "${TMPDIR:-/tmp}/local-s3.XXXXXX"); fi
  mkdir -p "$DIR"
  set_paths
  ensure_packages
  mkdir -p "$PIDS" "$LOGS" "$DIR/run" "$DIR/crash" "$DIR/mon" "$DIR/osd/0" "$DIR/rgw"
  start_watchdog

  if [ -f "$STATE" ]; then
    load_state
    [ -z "$ARG_PORT" ] || [ "$ARG_PORT" = "$RGW_PORT" ] || die "$DIR was created with S3 port $RGW_PORT, not $ARG_PORT"
    [ -z "$ARG_MON_PORT" ] || [ "$ARG_MON_PORT" = "$MON_PORT" ] || die "$DIR was created with mon port $MON_PORT, not $ARG_MON_PORT"
  else
    RGW_PORT=${ARG_PORT:-${RGW_PORT:-7480}}
    MON_PORT=${ARG_MON_PORT:-${MON_PORT:-6789}}
    MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-2147483648}
    ACCESS_KEY=${RGW_ACCESS_KEY:-$DEFAULT_ACCESS_KEY}
    SECRET_KEY=${RGW_SECRET_KEY:-$DEFAULT_SECRET_KEY}
  fi
  local timeout=${RGW_START_TIMEOUT:-180}

  # fail early (before creating anything) when a port is taken by something else
  if [ -z "$(live_pid mon)" ] && port_busy "$MON_PORT"; then die "mon port $MON_PORT is already in use (set MON_PORT / --mon-port)"; fi
  if [ -z "$(live_pid rgw)" ] && port_busy "$RGW_PORT"; then die "S3 port $RGW_PORT is already in use (set RGW_PORT / --port)"; fi
  if [ ! -f "$STATE" ]; then
    printf 'RGW_PORT=%q\nMON_PORT=%q\nMEMSTORE_BYTES=%q\nACCESS_KEY=%q\nSECRET_KEY=%q\n' \
      "$RGW_PORT" "$MON_PORT" "$MEMSTORE_BYTES" "$ACCESS_KEY" "$SECRET_KEY" >"$STATE"
  fi
  [ -f "$CONF" ] || write_conf

  # On failure: show log tails, stop what this invocation started, keep DIR for inspection.
  START_OK=0
  trap 'on_start_exit' EXIT

  # --- monitor
  if [ ! -f "$DIR/.mon-done" ]; then
    log "creating monitor a on 127.0.0.1:$MON_PORT"
    monmaptool --create --clobber --fsid "$(awk '$1=="fsid"{print $3}' "$CONF")" \
      --addv a "[v1:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
    rm -rf "$DIR/mon/a"; mkdir -p "$DIR/mon/a"
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" >>"$LOGS/mkfs.out" 2>&1
    touch "$DIR/.mon-done"
  fi
  if [ -z "$(live_pid mon)" ]; then
    port_busy "$MON_PORT" && die "mon port $MON_PORT is already in use (set MON_PORT / --mon-port)"
    launch mon ceph-mon -c "$CONF" -i a -f
  fi
  wait_for "monitor quorum" "$timeout" ceph_ mon stat

  # --- OSD (memstore)
  if [ ! -f "$DIR/.osd-done" ]; then
    log "creating osd.0 (memstore, $MEMSTORE_BYTES bytes)"
    local uuid id
    uuid=$(cat /proc/sys/kernel/random/uuid)
    id=$(ceph_ osd new "$uuid")
    [ "$id" = 0 ] || die "expected osd id 0, got '$id'"
    rm -rf "$DIR/osd/0"; mkdir -p "$DIR/osd/0"
    ceph_ osd crush add osd.0 1.0 root=default host=localhost >>"$LOGS/mkfs.out" 2>&1
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >>"$LOGS/mkfs.out" 2>&1
    touch "$DIR/.osd-done"
  fi
  local try
  for try in 1 2 3; do
    [ -n "$(live_pid osd)" ] || launch osd ceph-osd -c "$CONF" -i 0 -f
    wait_for "osd.0 up" 45 osd_up && break
    [ "$try" -lt 3 ] || die "osd.0 did not come up"
    log "osd.0 not up after 45s (attempt $try), restarting it"
    stop_one osd
  done

  # --- RADOS Gateway
  if [ -z "$(live_pid rgw)" ]; then
    port_busy "$RGW_PORT" && die "S3 port $RGW_PORT is already in use (set RGW_PORT / --port)"
    launch rgw radosgw -c "$CONF" -n client.rgw.a -f
  fi
  wait_for "S3 endpoint on 127.0.0.1:$RGW_PORT" "$timeout" s3_anon_up

  # --- S3 user with fixed credentials
  if [ ! -f "$DIR/.user-done" ]; then
    if ! rgwadmin user info --uid="$S3_USER" >/dev/null 2>&1; then
      log "creating S3 user $S3_USER"
      rgwadmin user create --uid="$S3_USER" --display-name="local s3 test user" \
        --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
    fi
    touch "$DIR/.user-done"
  fi
  wait_for "signed S3 ListBuckets" 60 s3_signed_ok
  if [ ! -f "$DIR/.warm-done" ]; then
    log "warming up (first bucket/object/multipart create the RADOS pools)"
    warm_up || die "warm-up S3 requests failed"
    touch "$DIR/.warm-done"
  fi
  START_OK=1
  log "S3 ready on http://127.0.0.1:$RGW_PORT after $((SECONDS - t_start))s (dir $DIR)"
  print_env
}

cmd_stop() {
  [ -n "$DIR" ] || die "usage: rgw.sh stop DIR"
  [ -d "$DIR" ] || die "no such dir $DIR"
  set_paths
  local n
  for n in rgw osd mon; do stop_one "$n"; done
}

cmd_status() {
  [ -n "$DIR" ] || die "usage: rgw.sh status DIR"
  set_paths; load_state
  local n pid rc=0 rss
  for n in mon osd rgw; do
    pid=$(live_pid "$n")
    if [ -n "$pid" ]; then
      rss=$(awk '/^VmRSS/{printf "%d MiB", $2/1024}' "/proc/$pid/status")
      echo "$n: running (pid $pid, rss $rss)"
    else echo "$n: stopped"; rc=1; fi
  done
  if [ -n "$(live_pid mon)" ]; then echo "health: $(ceph_ health 2>/dev/null || echo unknown)"; fi
  if s3_signed_ok; then echo "s3: http://127.0.0.1:$RGW_PORT answers signed requests"
  else echo "s3: http://127.0.0.1:$RGW_PORT not answering"; rc=1; fi
  return $rc
}

cmd_env() {
  [ -n "$DIR" ] || die "usage: rgw.sh env DIR"
  set_paths; load_state; print_env
}

cmd_purge() {
  [ -n "$DIR" ] || die "usage: rgw.sh purge DIR"
  set_paths
  [ -f "$STATE" ] && [ -f "$CONF" ] || die "$DIR does not look like a rgw.sh directory; not deleting"
  cmd_stop
  rm -rf -- "$DIR"
  log "deleted $DIR"
}

cmd_destroy() {
  [ -n "$DIR" ] || die "usage: rgw.sh destroy DIR"
  [ -d "$DIR" ] || return 0
  set_paths
  [ -f "$STATE" ] || die "$DIR does not look like a rgw.sh directory; not deleting"
  local n
  for n in rgw osd mon; do kill_one "$n"; done
  rm -rf -- "$DIR"
  log "destroyed $DIR"
}

case "$CMD" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  purge) cmd_purge ;;
  destroy) cmd_destroy ;;
  *) usage ;;
esac
