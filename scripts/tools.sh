#!/bin/sh
# Installs what is missing, for one of two purposes:
#   scripts/tools.sh dev    what building and running the Worker needs (`make dev`):
#                           the wasm32 Rust target, wasm-bindgen-cli and the npm
#                           packages (scripts/build.sh does worker-build's steps
#                           itself, so worker-build is not installed)
#   scripts/tools.sh test   all of that, plus what only the tests use (`make test`):
#                           Debian's chromium and the Python mock identity provider
# Safe to run again: each step checks first, so a warm machine spends a second
# or two here.
set -eu
cd "$(dirname "$0")/.."
PURPOSE="${1:-test}"
case "$PURPOSE" in
  dev | test) ;;
  *) echo "usage: scripts/tools.sh dev|test" >&2; exit 2 ;;
esac
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

# wasm-bindgen-cli must be exactly the wasm-bindgen the crate links against.
WASM_BINDGEN_VERSION=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

step() { printf '==> %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown Rust target"
  rustup target add wasm32-unknown-unknown
fi

if ! "$CARGO_BIN/wasm-bindgen" --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 5 minutes the first time)"
  # Not --locked: its lock file pins a webpki-roots that no longer builds.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# Also when a pinned package is missing: `npm install --package-lock-only` (as
# after a merge of package.json) refreshes npm's own record without installing.
npm_complete() {
  node -e 'const fs = require("fs"); const p = require("./package.json");
    process.exit(Object.keys(p.devDependencies).every((d) => fs.existsSync(`node_modules/${d}/package.json`)) ? 0 : 1)'
}
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || ! npm_complete; then
  step "installing npm packages (versions pinned in package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
fi

[ "$PURPOSE" = test ] || exit 0

# Test-only from here on.
# Headless Chromium for the consent-page browser test (Debian's package;
# Playwright's own browser download does not work offline).
if [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's chromium (for the browser test of the consent page)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# curl, for scripts/admin.sh (its e2e test runs the script).
if ! command -v curl >/dev/null 2>&1; then
  step "installing Debian's curl (for scripts/admin.sh)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq curl >/dev/null
fi

# The GitHub-shaped mock identity provider of the e2e tests (PyPI's oauth-mocks).
scripts/mock-deps.sh

# A Node >= 22 (pinned, from the npm registry, into .tools/) for the tools that need it: the
# MCP conformance suite (e2e/mcp-conformance.test.mjs) and the MCP Inspector 2.x CLI
# (e2e/mcp-inspector.test.mjs, installed here too so the test never has to skip).
scripts/node22.sh >/dev/null
scripts/inspector.sh --install-only
