#!/usr/bin/env bash
# Runs the MCP Inspector 2.x (CLI, web UI or TUI) without touching package.json.
#
# The Inspector 2.x needs Node >= 22.19; the system Node here may be older. On first use this
# installs, into the git-ignored cache `.tools/`:
#   .tools/node22     through scripts/node22.sh (a pinned Node 22 from the npm registry)
#   .tools/inspector  @modelcontextprotocol/inspector@$INSPECTOR_VERSION
# and then runs the Inspector's launcher with that Node, passing every argument through.
#
#   scripts/inspector.sh --cli http://127.0.0.1:8787/mcp --transport http \
#     --header "Authorization: Bearer $TOKEN" --method tools/list
#   scripts/inspector.sh --install-only     # just populate the cache
#
# If the system Node is already >= 22.19 it is used and no Node is downloaded.
set -euo pipefail

INSPECTOR_VERSION="${INSPECTOR_VERSION:-2.12.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${INSPECTOR_TOOLS_DIR:-$root/.tools}"
inspector_pkg="$tools/inspector/node_modules/@modelcontextprotocol/inspector"
launcher="$inspector_pkg/clients/launcher/build/index.js"

log() { echo "inspector.sh: $*" >&2; }

# A Node >= 22.19: the system one if new enough, else the pinned one scripts/node22.sh installs.
node_bin="$(NODE22_TOOLS_DIR="$tools" "$root/scripts/node22.sh")"

installed_version() {
  [ -f "$inspector_pkg/package.json" ] || return 0
  "$node_bin" -p 'require(process.argv[1]).version' "$inspector_pkg/package.json" 2>/dev/null || true
}

if [ "$(installed_version)" != "$INSPECTOR_VERSION" ] || [ ! -f "$launcher" ]; then
  log "installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION into $tools/inspector (one time)"
  mkdir -p "$tools/inspector"
  # npm runs under the Node 22 found above, so the engines check sees the Node that will run it.
  PATH="$(dirname "$node_bin"):$PATH" npm install --prefix "$tools/inspector" --no-save --no-audit --no-fund \
    --loglevel=error "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >&2
  [ -f "$launcher" ] || { log "installed, but $launcher is missing"; exit 1; }
fi

if [ "${1:-}" = "--install-only" ]; then
  log "ready: $("$node_bin" --version) and inspector $(installed_version)"
  exit 0
fi

exec "$node_bin" "$launcher" "$@"
