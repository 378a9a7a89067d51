# Two commands for a new user: `make dev` (run locally) and `make test`.
# Both install what is missing first (scripts/tools.sh); nothing is installed by hand.

SHELL := /bin/sh
export PATH := $(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

.PHONY: dev test tools tools-dev build lint unit e2e bench bench-smoke soak clean

## dev: install what running needs and is missing, build, serve on http://127.0.0.1:8787
dev: tools-dev
	scripts/dev.sh

## test: formatting, lints (native and wasm32), unit tests, release build, e2e in
## workerd, and a one-second run of the bench (that it runs, not how fast)
test: tools lint unit build e2e bench-smoke

## tools: everything `make test` needs (tools-dev plus chromium and the Python mock provider)
tools:
	@scripts/tools.sh test

tools-dev:
	@scripts/tools.sh dev

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

## bench: this Worker side by side with the TypeScript stack (workers-oauth-provider
## + agents) and a trivial JS worker; prints a table, writes bench/results/latest.svg
bench: tools-dev build
	node bench/run.mjs

bench-smoke:
	node bench/run.mjs --quick

## soak: the built Worker in workerd under bounded concurrent load for a fixed
## number of requests; prints statuses, storage operations, latencies; fails on any 5xx
## `make soak FAULTS=1`: the same with about 1 storage call in 50 failing (in the
## harness, e2e/count-storage.mjs); fails on any unexpected 5xx or invariant violation
soak: build
	node scripts/soak.mjs $(if $(FAULTS),--faults)
