#!/bin/sh
# Container health: every tenant in TENANTS is ready (/readyz: its database answers and its
# schema is current) through the proxy, by its own host name. An unknown host would get
# 404 from nginx, so this also proves the rendered proxy config routes each tenant.
set -eu
set -f
port=${SILO_HTTP_PORT:-8080}
domain=${SILO_DOMAIN:-localhost}
case ${SILO_HTTP_HOST:-127.0.0.1} in
  0.0.0.0) addr=127.0.0.1 ;;
  ::) addr='[::1]' ;;
  *:*) addr="[$SILO_HTTP_HOST]" ;;
  *) addr=$SILO_HTTP_HOST ;;
esac
# No tenant listed: the proxy must at least answer (404 for an unknown host).
if [ -z "${TENANTS:-}" ]; then
  code=$(curl -s -o /dev/null --max-time 4 -w '%{http_code}' "http://$addr:$port/") || true
  [ "$code" = 404 ] || { echo "the proxy does not answer on $addr:$port (HTTP $code)" >&2; exit 1; }
  exit 0
fi
for pair in ${TENANTS:-}; do
  tenant=${pair%%=*}
  curl -fsS -o /dev/null --max-time 4 -H "Host: $tenant.$domain" "http://$addr:$port/readyz" || {
    echo "tenant $tenant is not ready through the proxy" >&2
    exit 1
  }
done
