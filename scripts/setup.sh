#!/usr/bin/env bash
# Sets the project up on a fresh machine with Node 20 and npm, then runs the main job.
#   bash scripts/setup.sh            set up, then run the main job (pnpm train:prior)
#   bash scripts/setup.sh --no-run   set up only (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'setup: %s\n' "$*" >&2; }
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$major" -ge 20 ] || { say "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))"; exit 1; }

want=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$want" ]; then
  say "installing pnpm $want"
  npm install -g "pnpm@$want" >/dev/null
fi
pnpm install --frozen-lockfile

if ! pnpm --silent sd info >/dev/null 2>&1; then
  say "no WebGPU adapter found; installing Mesa's lavapipe (software Vulkan)"
  bash scripts/install-lavapipe.sh
fi
pnpm --silent sd info

# The browser tests (test/browser/, part of pnpm test) run the kernels in Debian's headless Chromium.
if [ -z "${SD_CHROMIUM:-}" ] && ! command -v chromium-headless-shell >/dev/null 2>&1 && [ ! -x /usr/lib/chromium/chromium-headless-shell ]; then
  say "no chromium-headless-shell; installing it (for the browser tests)"
  bash scripts/install-chromium.sh
fi

if [ "${1:-}" != "--no-run" ]; then
  # --resume: on a fresh clone it is a fresh run; run again, set-up continues (or re-evaluates) the
  # runs in runs/prior instead of stopping at train-prior's refusal of a non-empty run directory.
  pnpm train:prior --resume
fi
