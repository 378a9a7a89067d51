#!/bin/sh
# Builds the Worker (Rust -> wasm -> build/index.js) and prints the bundle size.
# Used by `make`, and by wrangler itself through [build] in wrangler.toml.
# Skips the build when build/ is newer than every input, so wrangler's second
# build at start-up (its file watcher fires once) costs nothing.
set -eu
cd "$(dirname "$0")/.."
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

# worker-build looks for its helpers in these variables before trying to
# download them from GitHub, which is not reachable (and not wanted) here.
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"

out=build/index.js
if [ -f "$out" ] && [ -z "$(find src templates Cargo.toml Cargo.lock -newer "$out" -type f 2>/dev/null | head -n 1)" ]; then
  echo "build/ is up to date"
else
  worker-build --release
fi

wasm=$(ls build/*.wasm 2>/dev/null | head -n 1)
if [ -n "$wasm" ]; then
  raw=$(wc -c < "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  printf 'bundle: %s  %d bytes (%d KiB) raw, %d bytes (%d KiB) gzip; budget 300 KiB gzip\n' \
    "$wasm" "$raw" $((raw / 1024)) "$gz" $((gz / 1024))
  if [ "$gz" -gt $((300 * 1024)) ]; then
    echo "bundle is over the 300 KiB gzip budget" >&2
    exit 1
  fi
fi
