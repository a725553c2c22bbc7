# Switchyard: the two commands a newcomer needs are `make dev` and `make test`.
# Both install whatever is missing first (scripts/setup.sh), and are quick when
# nothing is.

PORT ?= 8787
# A LiteLLM-shaped YAML to serve instead of the bundled config/default.yaml.
CONFIG ?=

SHELL := /bin/bash
ENV := source .tools/env

.PHONY: setup build dev test lint test-core test-mocks test-e2e check fuzz bench bench-coordinator profile clean

setup:
	bash scripts/setup.sh

build:
	bash scripts/build.sh

## Runs the gateway on 127.0.0.1:$(PORT) with `wrangler dev` (which builds it first).
dev: setup
	$(ENV) && exec wrangler dev --ip 127.0.0.1 --port $(PORT) \
		$(if $(CONFIG),--var "SWITCHYARD_CONFIG:$$(cat '$(CONFIG)')")

## Checks a config before it is deployed or put into KV: every error with its key
## path, every key that would be ignored; non-zero exit on an error.
check:
	@test -n "$(CONFIG)" || (echo "usage: make check CONFIG=file.yaml" >&2; exit 2)
	cargo run -q -p switchyard-core --bin switchyard-check -- '$(CONFIG)'

## Every test: lints, the core's unit tests, the mock upstreams' tests, then end to end
## against the built Worker.
test: lint test-core test-mocks test-e2e

## Warnings are errors. Both crates are linted on the host with the default
## toolchain: Debian's wasm32 toolchain (see scripts/setup.sh) ships no clippy.
lint: setup
	cargo fmt --check
	cargo clippy -q --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps --workspace

## The core's tests, and the shell's pure pieces (natively, no Worker).
test-core: setup
	cargo test --workspace

## The Worker's JavaScript modules (src/js/), and the mock upstreams (tests/support)
## against the providers' rules and official SDKs.
test-mocks: setup
	node --test tests/unit/

test-e2e: build
	$(ENV) && node --test --test-timeout=120000 tests/e2e/

## Fuzzing: every parser of outside input (switchyard_core::fuzzing) for
## FUZZ_SECONDS each, under libFuzzer where a nightly toolchain can be had, else a
## seeded loop on stable. Prints each target's inputs executed; a crash leaves its
## input in fuzz/artifacts/<target>/ and fails. See scripts/fuzz.sh for the knobs.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

## Benchmarks: the coordinator natively, then end to end under `workerd serve`
## beside LiteLLM's proxy and Portkey's gateway. nginx, oha, LiteLLM (pinned: a
## release from before the compromised ones), Portkey and matplotlib are installed
## on first use. Writes BENCHMARKS.md, bench/results.json and bench/latency.png.
LITELLM_VERSION := 1.82.6
PORTKEY_VERSION := 1.15.2
bench: build
	command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light)
	test -x .tools/bin/oha || cargo install -q oha --locked --root .tools
	test -x bench/.venv/bin/litellm || (python3 -m venv bench/.venv && \
		bench/.venv/bin/pip install -q 'litellm[proxy]==$(LITELLM_VERSION)' matplotlib)
	test -d bench/.portkey/node_modules/@portkey-ai/gateway || (mkdir -p bench/.portkey && \
		echo '{"private": true}' > bench/.portkey/package.json && \
		npm install --prefix bench/.portkey --no-audit --no-fund -s @portkey-ai/gateway@$(PORTKEY_VERSION))
	cargo bench -q -p switchyard-core
	bench/.venv/bin/python bench/run.py

## What one group's coordinator (its Durable Object) spends per message under
## workerd, beside a Durable Object that does nothing (BENCHMARKS.md).
bench-coordinator: build
	node bench/coordinator.mjs

## Where the routed path spends its CPU under workerd (V8's sampling profiler).
profile: build
	command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light)
	test -x .tools/bin/oha || cargo install -q oha --locked --root .tools
	python3 bench/run.py --profile

clean:
	rm -rf build target .wrangler fuzz/target
