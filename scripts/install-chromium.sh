#!/usr/bin/env bash
# Installs Debian's chromium-headless-shell: the browser test/browser/ drives (through playwright-core,
# which downloads no browser) to run the kernels on Chromium's WebGPU. Idempotent.
set -euo pipefail
say() { printf 'setup: %s\n' "$*" >&2; }
manual() {
  say "chromium-headless-shell is missing, and it cannot be installed automatically here ($1)."
  say "Install it yourself. On Debian 12 (as root):"
  say "  apt-get update && apt-get install -y chromium-headless-shell"
  say "or point SD_CHROMIUM at a Chromium binary for the browser tests."
  exit 1
}
if command -v chromium-headless-shell >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium-headless-shell ]; then
  exit 0
fi
[ "$(id -u)" = 0 ] || manual "not root"
. /etc/os-release 2>/dev/null || manual "no /etc/os-release"
[ "${ID:-}" = debian ] || manual "not Debian (ID=${ID:-unknown})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium-headless-shell >/dev/null
say "installed $(dpkg-query -W -f='chromium-headless-shell ${Version}' chromium-headless-shell)"
