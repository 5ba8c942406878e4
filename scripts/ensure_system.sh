#!/usr/bin/env bash
# Debian packages PedsLink needs on the machine itself (not from PyPI).
# Installs only what is missing; uses sudo when not root.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need=()
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v msgfmt >/dev/null || need+=(gettext)
for pkg in "$@"; do
  case "$pkg" in
    chromium) command -v chromium >/dev/null || need+=(chromium fonts-noto-cjk) ;;
    npm) command -v npm >/dev/null || need+=(npm) ;;
    # pg_dump/pg_restore for `manage.py backup`: any installed client (postgresql brings one).
    postgresql-client) command -v pg_dump >/dev/null || need+=(postgresql-client) ;;
    *) dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg") ;;
  esac
done
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
