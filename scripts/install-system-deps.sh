#!/usr/bin/env bash
# Makes sure the real services the test suite starts are installed: ClickHouse, Prometheus (+promtool),
# Alertmanager and Chromium, all from Debian's packages. Fast when everything is there already.
set -euo pipefail

need=()
{ command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/bin/clickhouse ]; } || need+=(clickhouse-server clickhouse-client)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
{ command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1; } || need+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

# Deduplicate (prometheus may be listed twice).
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "test prerequisites: installing ${need[*]} (Debian packages)"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "run as root, or install them yourself: apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
