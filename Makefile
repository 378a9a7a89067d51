# Two commands for a new user: `make dev` (run locally) and `make test`.
# Both install what is missing first (scripts/tools.sh); nothing is installed by hand.

SHELL := /bin/sh
export PATH := $(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

.PHONY: dev test tools build lint unit e2e bench soak clean

## dev: install what is missing, build, serve on http://127.0.0.1:8787
dev: tools
	scripts/dev.sh

## test: formatting, lints (native and wasm32), unit tests, release build, e2e in workerd
test: tools lint unit build e2e

tools:
	@scripts/tools.sh

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown -- -D warnings

unit:
	cargo test

build:
	scripts/build.sh

e2e:
	node --test --test-concurrency=1 e2e/

clean:
	rm -rf build target .wrangler

## bench: latency figures of the built Worker in workerd, as ratios to /health
bench: build
	node scripts/bench.mjs

## soak: the built Worker in workerd under bounded concurrent load for a fixed
## number of requests; prints statuses, storage operations, latencies; fails on any 5xx
soak: build
	node scripts/soak.mjs
