#!/bin/sh
# silo in a container (docker-compose.yml's `app` service).
#
#   1. register each extra PostgreSQL server:  silo server add <name> - (URL on stdin)
#      (SILO_DATABASE_URL's server is registered by silo itself, as `default`)
#   2. create each tenant on its server:       silo tenant create <tenant> --server <name>
#   3. silo run: the stack in the foreground (embedded in nothing: workers and nginx under
#      silo's own PM2 daemon), app logs on stdout; SIGTERM is an orderly `silo down`.
#      Once it answers, demo polls are seeded once (SEED_DEMO_POLLS).
#
# Every step is idempotent: restarting the container re-runs them as no-ops.
#
# Environment: silo's own (SILO_HOME, SILO_DOMAIN, SILO_HTTP_PORT, SILO_HTTP_HOST,
# SILO_PROXY, SILO_DATABASE_URL, SILO_APP, ...; PM2_HOME) plus, for this script only:
#   DATABASE_SERVERS  whitespace-separated <server-name>=<admin-url> pairs, besides
#                     SILO_DATABASE_URL's `default` (one name per server: silo refuses
#                     a second name for an address it already knows)
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

# PM2 keeps its pid file and sockets in PM2_HOME. Left over from a previous run of this
# container they would make silo talk to a daemon that is gone; a live PM2 is refused.
pidfile="$PM2_HOME/pm2.pid"
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q 'PM2' "/proc/$pid/cmdline" 2>/dev/null; then
    die "a PM2 (pid $pid) already runs for PM2_HOME=$PM2_HOME: not starting a second stack"
  fi
fi
rm -f "$PM2_HOME/pm2.pid" "$PM2_HOME/rpc.sock" "$PM2_HOME/pub.sock"
mkdir -p "$SILO_HOME" "$PM2_HOME"

# 1. Database servers. `depends_on: service_healthy` already waited for them; retry a
#    little anyway (a server that just became healthy may still refuse for a moment).
for pair in $DATABASE_SERVERS; do
  name=${pair%%=*}
  url=${pair#*=}
  [ -n "$name" ] && [ "$name" != "$pair" ] && [ -n "$url" ] || die "DATABASE_SERVERS: expected <name>=<admin-url>, got an entry without '='"
  attempt=1
  # The URL (a password) on standard input, never on a command line `ps` shows.
  until printf '%s\n' "$url" | silo server add "$name" -; do
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

# 3. The stack in the foreground. The admin URLs stay out of silo run's environment
#    except SILO_DATABASE_URL, which it needs; its PM2 daemon and every app get none of
#    them (silo spawns the daemon with a minimal environment). `docker compose exec app
#    silo ...` reaches the same daemon through PM2_HOME: `tenant create` there is live.
#    Not `exec`, so the demo polls can be seeded once the stack answers; a stop signal
#    is passed on to silo run, which stops proxy, workers and daemon in order.
env -u DATABASE_SERVERS node "$APP_DIR/bin/silo.js" run &
runner=$!
trap 'kill -TERM "$runner" 2>/dev/null || true' TERM INT

if [ "$SEED_DEMO_POLLS" = "1" ] && [ -n "$TENANTS" ]; then
  attempt=0
  until sh "$APP_DIR/docker/healthcheck.sh" 2>/dev/null; do
    kill -0 "$runner" 2>/dev/null || break
    attempt=$((attempt + 1))
    [ "$attempt" -lt 180 ] || break
    sleep 0.5
  done
  if kill -0 "$runner" 2>/dev/null; then
    node "$APP_DIR/docker/seed-demo.mjs" || log "seeding demo polls failed; continuing without them"
  fi
fi

# `wait` returns early when a trapped signal arrives: wait again for silo run to finish.
set +e
wait "$runner"
status=$?
while kill -0 "$runner" 2>/dev/null; do
  wait "$runner"
  status=$?
done
log "silo run exited with status $status"
exit "$status"
