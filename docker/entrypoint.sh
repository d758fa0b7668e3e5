#!/bin/sh
# silo in a container (docker-compose.yml's `app` service).
#
#   1. register each PostgreSQL server:   silo server add <name> <admin-url>
#   2. create each tenant on its server:  silo tenant create <tenant> --server <name>
#   3. render the proxy config and check the stack answers: `silo up`, under a throwaway
#      PM2 daemon, then seed demo polls once and `silo down` again
#   4. pm2-runtime on ecosystem.config.js: the same apps as `silo up`, read from the
#      registry; a stop signal is turned into `silo down` (an orderly stop).
#
# Every step is idempotent: restarting the container re-runs them as no-ops.
#
# Step 3 exists because the current CLI has no command that only renders the proxy config
# (ecosystem.config.js starts the proxy only once its config exists, and only `silo up`
# renders it). With a `silo up --no-start` (or `silo proxy render`) it would be one call.
#
# Environment: silo's own (SILO_HOME, SILO_DOMAIN, SILO_HTTP_PORT, SILO_HTTP_HOST,
# SILO_PROXY, SILO_DATABASE_URL, ...; PM2_HOME) plus, for this script only:
#   DATABASE_SERVERS  whitespace-separated <server-name>=<admin-url> pairs
#   TENANTS           whitespace-separated <tenant>=<server-name> pairs
#   SEED_DEMO_POLLS   1 (default): give each tenant created here one demo poll, once
set -eu
set -f # the lists below are split on whitespace; never glob them

APP_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)

log() { printf 'silo-entrypoint: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
silo() { node "$APP_DIR/bin/silo.js" "$@"; }

: "${SILO_HOME:?SILO_HOME must be set (the state folder, a volume)}"
: "${PM2_HOME:?PM2_HOME must be set (for example /run/silo/pm2, a tmpfs)}"
: "${SILO_DATABASE_URL:?SILO_DATABASE_URL must be set: without it silo would run its embedded PostgreSQL}"
DATABASE_SERVERS=${DATABASE_SERVERS:-}
TENANTS=${TENANTS:-}
SEED_DEMO_POLLS=${SEED_DEMO_POLLS:-1}
PREP_PM2_HOME="$PM2_HOME-prep"
# What silo sets in the environment of a PM2 daemon it spawns (src/stack/pm2.ts
# connect()); here pm2-runtime is the daemon, so it gets the same. Cluster workers accept
# connections themselves instead of through the daemon (no connection lost in transit
# when a worker dies).
DAEMON_ENV="NODE_CLUSTER_SCHED_POLICY=none"

# PM2 keeps its pid file and sockets in PM2_HOME. Left over from a previous run of this
# container they would make silo talk to a daemon that is gone; a live PM2 is refused.
clear_stale_pm2() {
  pidfile="$1/pm2.pid"
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q 'PM2' "/proc/$pid/cmdline" 2>/dev/null; then
      die "a PM2 (pid $pid) already runs for PM2_HOME=$1: not starting a second stack"
    fi
  fi
  rm -f "$1/pm2.pid" "$1/rpc.sock" "$1/pub.sock"
}

mkdir -p "$SILO_HOME" "$PM2_HOME" "$PREP_PM2_HOME"
clear_stale_pm2 "$PM2_HOME"
clear_stale_pm2 "$PREP_PM2_HOME"

# 1. Database servers. `depends_on: service_healthy` already waited for them; retry a
#    little anyway (a server that just became healthy may still refuse for a moment).
for pair in $DATABASE_SERVERS; do
  name=${pair%%=*}
  url=${pair#*=}
  [ -n "$name" ] && [ "$name" != "$pair" ] && [ -n "$url" ] || die "DATABASE_SERVERS: expected <name>=<admin-url>, got an entry without '='"
  attempt=1
  until silo server add "$name" "$url"; do
    [ "$attempt" -lt 15 ] || die "cannot register database server $name"
    log "database server $name not usable yet (attempt $attempt), retrying in 2 s"
    attempt=$((attempt + 1))
    sleep 2
  done
done

# 2. Tenants, each on its own server. An existing tenant is left as it is.
for pair in $TENANTS; do
  tenant=${pair%%=*}
  server=${pair#*=}
  [ -n "$tenant" ] && [ "$tenant" != "$pair" ] && [ -n "$server" ] || die "TENANTS: expected <tenant>=<server-name>, got '$pair'"
  silo tenant create "$tenant" --server "$server"
done

# 3. Render the proxy config and prove the stack answers, under a throwaway daemon.
#    The daemon is spawned first, with the same minimal environment silo gives it (no
#    admin URL): when `silo up` finds no daemon and no embedded server to start, it
#    starts all workers at once and each start spawns its own daemon (two God daemons
#    for one PM2_HOME, and `silo up` hangs). See src/stack/pm2.ts connect().
trap 'PM2_HOME="$PREP_PM2_HOME" silo down; exit 143' TERM INT
# shellcheck disable=SC2086 # DAEMON_ENV is a list of NAME=value words
env -i PATH="$PATH" HOME="${HOME:-/tmp}" PM2_HOME="$PREP_PM2_HOME" $DAEMON_ENV \
  "$APP_DIR/node_modules/.bin/pm2" ping >/dev/null
if ! PM2_HOME="$PREP_PM2_HOME" silo up; then
  PM2_HOME="$PREP_PM2_HOME" silo down || true
  die "silo up failed (logs: $SILO_HOME/logs)"
fi
if [ "$SEED_DEMO_POLLS" = "1" ] && [ -n "$TENANTS" ]; then
  node "$APP_DIR/docker/seed-demo.mjs" || log "seeding demo polls failed; continuing without them"
fi
PM2_HOME="$PREP_PM2_HOME" silo down
trap - TERM INT
rm -rf "$PREP_PM2_HOME"

# 4. pm2-runtime runs the stack. The admin URLs stay out of its environment (PM2 already
#    filters them out of every app's env; this is the second fence). Commands run with
#    `docker compose exec app silo ...` get the container's env back, and reach this
#    pm2-runtime through PM2_HOME: `silo tenant create` there starts the worker live.
#
#    Not `exec`: pm2-runtime 7.0.4 exits on SIGTERM/SIGINT at once, without stopping its
#    apps (its own handler and its in-process daemon's race to process.exit), so workers
#    lose in-flight requests and nginx is left behind. This script stays in front, and on
#    a stop signal runs `silo down`: proxy first, then each worker gracefully, then the
#    daemon, which is pm2-runtime itself.
cd "$APP_DIR"
# shellcheck disable=SC2086
env -u DATABASE_SERVERS -u SILO_DATABASE_URL $DAEMON_ENV \
  "$APP_DIR/node_modules/.bin/pm2-runtime" start ecosystem.config.js &
runtime=$!

stop() {
  trap '' TERM INT
  log "stop signal: silo down (proxy, then workers, then pm2-runtime)"
  silo down || log "silo down failed; stopping pm2-runtime directly"
  if kill -0 "$runtime" 2>/dev/null; then
    kill -TERM "$runtime" 2>/dev/null || true
  fi
  wait "$runtime" 2>/dev/null || true
  exit 0
}
trap stop TERM INT

set +e
wait "$runtime"
status=$?
log "pm2-runtime exited with status $status"
exit "$status"
