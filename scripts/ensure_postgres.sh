#!/usr/bin/env bash
# Make sure a PostgreSQL answers at DATABASE_URL's host; if none does, install and start one.
set -euo pipefail
url="${DATABASE_URL:?DATABASE_URL must be set}"
rest="${url#*://}"; rest="${rest##*@}"; hostport="${rest%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=5432

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if answers; then echo "PostgreSQL answers at $host:$port"; exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql
fi
version="$(ls /etc/postgresql | sort -V | tail -n 1)"
$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 50); do answers && break; sleep 0.2; done
# The default URL logs in as postgres/postgres over TCP: give the role that password.
$SUDO -u postgres psql -q -c "ALTER USER postgres PASSWORD 'postgres'" 2>/dev/null \
  || su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\""
answers || { echo "PostgreSQL did not start on $host:$port" >&2; exit 1; }
