#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian/Ubuntu machine:
# system packages (only those missing), the virtualenv with the package and its test tools,
# and the Node packages used by the integration tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v gcc >/dev/null || need_apt+=(gcc)
# real services the test suite starts on loopback ports
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v redis-sentinel >/dev/null || need_apt+=(redis-sentinel)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nats-server >/dev/null || need_apt+=(nats-server)
command -v chromium >/dev/null || need_apt+=(chromium)  # browser tests (never a downloaded browser)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,dev,bench]'

if [ -f tests/integration/js/package.json ]; then
  (cd tests/integration/js && { [ -f package-lock.json ] && npm ci --no-audit --no-fund --silent || npm install --no-audit --no-fund --silent; })
fi
echo "bootstrap: ok"
