# Switchyard: the two commands a newcomer needs are `make dev` and `make test`.
# Both install whatever is missing first (scripts/setup.sh), and are quick when
# nothing is.

PORT ?= 8787
# A LiteLLM-shaped YAML to serve instead of the bundled config/default.yaml.
CONFIG ?=

SHELL := /bin/bash
ENV := source .tools/env

.PHONY: setup build dev test lint test-core test-e2e bench clean

setup:
	bash scripts/setup.sh

build:
	bash scripts/build.sh

## Runs the gateway on 127.0.0.1:$(PORT) with `wrangler dev` (which builds it first).
dev: setup
	$(ENV) && exec wrangler dev --ip 127.0.0.1 --port $(PORT) \
		$(if $(CONFIG),--var "SWITCHYARD_CONFIG:$$(cat '$(CONFIG)')")

## Every test: lints, the core's unit tests, then end to end against the built Worker.
test: lint test-core test-e2e

## Warnings are errors. Both crates are linted on the host with the default
## toolchain: Debian's wasm32 toolchain (see scripts/setup.sh) ships no clippy.
lint: setup
	cargo fmt --check
	cargo clippy -q --workspace --all-targets -- -D warnings

test-core: setup
	cargo test -p switchyard-core

test-e2e: build
	$(ENV) && node --test --test-timeout=120000 tests/e2e/

## Benchmarks: the coordinator natively, then end to end under `workerd serve`
## (nginx and oha are installed on first use). Writes BENCHMARKS.md.
bench: build
	command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light)
	test -x .tools/bin/oha || cargo install -q oha --locked --root .tools
	cargo bench -q -p switchyard-core
	python3 bench/run.py

clean:
	rm -rf build target .wrangler
