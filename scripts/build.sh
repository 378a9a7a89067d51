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

# Written last, after a complete build: the up-to-date check compares against it,
# so a build interrupted half way is never taken for a finished one.
stamp=build/.complete
if [ -f "$stamp" ] && [ -z "$(find src templates Cargo.toml Cargo.lock -newer "$stamp" -type f 2>/dev/null | head -n 1)" ]; then
  echo "build/ is up to date"
else
  rm -f "$stamp"
  worker-build --release
  # Size pass (see Cargo.toml): -Oz, and no names or producers sections. The
  # feature list matches what workerd runs and what rustc emits for wasm32.
  node_modules/.bin/wasm-opt build/index_bg.wasm -o build/index_bg.opt.wasm -Oz \
    --strip-debug --strip-producers \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
  mv build/index_bg.opt.wasm build/index_bg.wasm
  touch "$stamp"
fi

wasm=build/index_bg.wasm
if [ -f "$wasm" ]; then
  raw=$(wc -c < "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  printf 'bundle: %s  %d bytes (%d KiB) raw, %d bytes (%d KiB) gzip; budget 350 KiB gzip\n' \
    "$wasm" "$raw" $((raw / 1024)) "$gz" $((gz / 1024))
  if [ "$gz" -gt $((350 * 1024)) ]; then
    echo "bundle is over the 350 KiB gzip budget by $(( (gz - 350 * 1024) / 1024 )) KiB" >&2
    exit 1
  fi
fi
