#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) from bookworm-backports.
# Dawn rejects bookworm's own Mesa 22.3 ("shaderUniform*ArrayDynamicIndexing required"); 25.x works.
set -euo pipefail
say() { printf 'setup: %s\n' "$*" >&2; }
manual() {
  say "no WebGPU adapter, and lavapipe cannot be installed automatically here ($1)."
  say "Install a Vulkan driver yourself. On Debian 12 (as root):"
  say "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list"
  say "  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1"
  say "and set XDG_RUNTIME_DIR (e.g. export XDG_RUNTIME_DIR=/tmp)."
  exit 1
}
[ "$(id -u)" = 0 ] || manual "not root"
. /etc/os-release 2>/dev/null || manual "no /etc/os-release"
[ "${ID:-}" = debian ] || manual "not Debian (ID=${ID:-unknown})"
codename=${VERSION_CODENAME:-bookworm}
list=/etc/apt/sources.list.d/${codename}-backports.list
if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  say "adding ${codename}-backports to apt sources"
  echo "deb http://deb.debian.org/debian ${codename}-backports main" > "$list"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t "${codename}-backports" mesa-vulkan-drivers libvulkan1 >/dev/null
say "installed $(dpkg-query -W -f='mesa-vulkan-drivers ${Version}' mesa-vulkan-drivers)"
