#!/bin/sh
# The entry point of the postgres:15 image scripts/offline-images makes from Debian's
# postgresql-15 when no registry can be reached. It follows the official image's contract
# (https://hub.docker.com/_/postgres) for what docker-compose.yml and most users rely on:
#
#   POSTGRES_PASSWORD   the superuser's password (required, unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER       the superuser (default postgres)
#   POSTGRES_DB         a database created at init (default: POSTGRES_USER)
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256)
#   any of them as <NAME>_FILE (a file holding the value, e.g. a Docker secret)
#   PGDATA              default /var/lib/postgresql/data; initialised when it has no PG_VERSION
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz run once, at init
#
# Started as root, it makes PGDATA the postgres user's and runs as that user. The
# temporary server used for init listens on the socket only, so a TCP pg_isready
# (the compose file's healthcheck) says ready only once the real server runs.
set -eu

file_env() {
  var=$1
  def=${2:-}
  eval "val=\${$var:-}"
  eval "fval=\${${var}_FILE:-}"
  if [ -n "$val" ] && [ -n "$fval" ]; then
    echo "postgres-entrypoint: both $var and ${var}_FILE are set (but are exclusive)" >&2
    exit 1
  fi
  if [ -n "$fval" ]; then val=$(cat "$fval"); fi
  [ -n "$val" ] || val=$def
  export "$var=$val"
  unset "${var}_FILE" 2>/dev/null || true
}

# `docker run postgres:15 -c shared_buffers=256MB`: options for postgres.
case ${1:-postgres} in
  -*) set -- postgres "$@" ;;
esac
[ $# -gt 0 ] || set -- postgres

if [ "$1" != postgres ]; then
  exec "$@"
fi

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  chmod 2777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    cat >&2 <<'EOF'
postgres-entrypoint: the database is uninitialized and no superuser password is set.
  Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value, or
  POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without a password.
EOF
    exit 1
  fi

  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options, split as the official image does
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 $POSTGRES_INITDB_ARGS
  rm -f "$pwfile"
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # Socket only while initialising.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  export PGPASSWORD="$POSTGRES_PASSWORD"
  psql=psql
  run_psql() { "$psql" -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"; }
  if [ "$POSTGRES_DB" != postgres ]; then
    run_psql --dbname postgres --set db="$POSTGRES_DB" <<'EOSQL'
CREATE DATABASE :"db" ;
EOSQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case $f in
      *.sh) echo "postgres-entrypoint: running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) echo "postgres-entrypoint: running $f"; run_psql --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "postgres-entrypoint: running $f"; gunzip -c "$f" | run_psql --dbname "$POSTGRES_DB" ;;
      *) echo "postgres-entrypoint: ignoring $f" ;;
    esac
  done
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo 'postgres-entrypoint: PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
