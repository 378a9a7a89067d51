#!/bin/sh
# Builds the Worker (Rust -> wasm -> build/index.js + build/index_bg.wasm) and
# prints the bundle size. Used by `make`, and by wrangler itself through
# [build] in wrangler.toml. Skips the build when build/ is newer than every
# input, so wrangler's second build at start-up (its file watcher fires once)
# costs nothing.
#
# The steps are the ones worker-build runs, minus its JS shim: cargo, then
# wasm-bindgen, then wasm-opt, then esbuild around our own small entry module
# (src/cloudflare/entry.js, which says why). So the only cargo-installed tool
# is wasm-bindgen-cli.
set -eu
cd "$(dirname "$0")/.."
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

# Written last, after a complete build: the up-to-date check compares against it,
# so a build interrupted half way is never taken for a finished one.
stamp=build/.complete
if [ -f "$stamp" ] && [ -z "$(find src templates Cargo.toml Cargo.lock -newer "$stamp" -type f 2>/dev/null | head -n 1)" ]; then
  echo "build/ is up to date"
else
  rm -f "$stamp"
  # The profile is in Cargo.toml ([profile.release], chosen by measurement).
  WASM_BINDGEN_USE_JS_SYS=1 cargo build --lib --release --target wasm32-unknown-unknown
  staging=build/.staging
  rm -rf "$staging"
  mkdir -p "$staging"
  # Reset-state and abort handler: after a panic (which aborts and traps the
  # instance) the next call gets a fresh instance, as with worker-build.
  "$CARGO_BIN/wasm-bindgen" target/wasm32-unknown-unknown/release/mcp_oauth_worker.wasm \
    --out-dir "$staging" --out-name index --no-typescript --target module \
    --experimental-reset-state-function --force-enable-abort-handler
  # workerd imports a wasm module as a plain `import` (no source-phase import).
  sed 's/^import source /import /' "$staging/index.js" > "$staging/index.fixed.js"
  mv "$staging/index.fixed.js" "$staging/index.js"
  # Size pass (see Cargo.toml and README "Size and cost"): -Oz, and no names or
  # producers sections. The feature list matches what workerd runs and what
  # rustc emits for wasm32. WASM_OPT_LEVEL overrides -Oz (for measuring).
  node_modules/.bin/wasm-opt "$staging/index_bg.wasm" -o build/index_bg.wasm "${WASM_OPT_LEVEL:--Oz}" \
    --strip-debug --strip-producers \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
  cp src/cloudflare/entry.js "$staging/entry.js"
  node_modules/.bin/esbuild "$staging/entry.js" --bundle --format=esm --minify \
    --external:./index_bg.wasm --external:cloudflare:* --outfile=build/index.js --log-level=warning
  rm -rf "$staging"
  touch "$stamp"
fi

wasm=build/index_bg.wasm
if [ -f "$wasm" ]; then
  raw=$(wc -c < "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  printf 'bundle: %s  %d bytes (%d KiB) raw, %d bytes (%d KiB) gzip; budget 512 KiB gzip\n' \
    "$wasm" "$raw" $((raw / 1024)) "$gz" $((gz / 1024))
  if [ "$gz" -gt $((512 * 1024)) ]; then
    echo "bundle is over the 512 KiB gzip budget by $(( (gz - 512 * 1024) / 1024 )) KiB" >&2
    exit 1
  fi
fi
