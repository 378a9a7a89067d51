#!/bin/sh
# Serves the Worker on http://127.0.0.1:8787 with local KV and Durable Object
# state (under .wrangler/state), offline and without telemetry.
set -eu
cd "$(dirname "$0")/.."

if [ ! -f .dev.vars ]; then
  key=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))')
  sed "s/^SECRET_KEY=.*/SECRET_KEY=$key/" .dev.vars.example > .dev.vars
  echo "created .dev.vars from .dev.vars.example (with a fresh SECRET_KEY)"
fi

export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" --local
