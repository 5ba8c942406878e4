#!/usr/bin/env bash
# Make sure a Redis answers at REDIS_URL; if none does, start a private one there.
set -euo pipefail
url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
hostport="${url#redis://}"; hostport="${hostport##*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=6379
var_dir="${VAR_DIR:-$(pwd)/var}"

ping() {
  exec 3<>"/dev/tcp/$host/$port" 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local reply=""; read -r -t 2 reply <&3 || true
  exec 3>&- 3<&-
  [[ "$reply" == +PONG* || "$reply" == -NOAUTH* ]]
}

if ping; then echo "Redis answers at $host:$port"; exit 0; fi
if ! command -v redis-server >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server
fi
mkdir -p "$var_dir"
echo "Starting a private Redis on $host:$port (data in $var_dir)"
redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no \
  --dir "$var_dir" --logfile "$var_dir/redis-$port.log" --pidfile "$var_dir/redis-$port.pid"
for _ in $(seq 1 50); do ping && exit 0; sleep 0.1; done
echo "Redis did not start on $host:$port; see $var_dir/redis-$port.log" >&2
exit 1
