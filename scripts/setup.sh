#!/usr/bin/env bash
# Installs everything the build and the tests need, idempotently, and writes
# .tools/env for the Makefile to source. Quick when everything is there.
#
# What it provides:
#   - a Rust toolchain with the wasm32-unknown-unknown standard library: rustup's
#     target where rustup can download it, else Debian's rustc-web with a std built
#     once from its sources (the route ../shared/TOOLCHAIN.md verified offline);
#   - worker-build and wasm-bindgen-cli (pinned to Cargo.lock) under .tools/;
#   - wrangler, workerd, miniflare, esbuild, binaryen, playwright-core and the OpenAI
#     and Anthropic SDKs from npm;
#   - prometheus_client (PyPI) in .tools/py, for the metrics test's parser;
#   - Debian's chromium, which the live page's tests drive (playwright-core's own
#     browser download would need a host other than the registries).
set -euo pipefail

# This script decides the toolchain itself: ignore one chosen by an earlier
# `source .tools/env` (make dev under the test runner inherits it).
unset RUSTUP_TOOLCHAIN CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools/bin"
env_file="$tools/env"
log() { printf 'setup: %s\n' "$*" >&2; }

WORKER_BUILD_VERSION=0.8.7
WASM_TARGET=wasm32-unknown-unknown

# --- 1. wasm32 standard library -------------------------------------------------
toolchain_exports=""
has_wasm_std() { # $1: rustup toolchain name ("" for the default)
  local libdir
  if [ -n "$1" ]; then
    libdir=$(RUSTUP_TOOLCHAIN="$1" rustc --print target-libdir --target "$WASM_TARGET" 2>/dev/null) || return 1
  else
    libdir=$(rustc --print target-libdir --target "$WASM_TARGET" 2>/dev/null) || return 1
  fi
  compgen -G "$libdir/libstd-*.rlib" >/dev/null
}

debian_wasm_std() {
  # rustup could not download the target: build it from Debian's std sources.
  if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/rustlib/src/rust/library ]; then
    log "installing Debian's rustc-web, cargo-web and rust-web-src"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq rustc-web cargo-web rust-web-src >/dev/null
  fi
  rustup toolchain link debian-web /usr >/dev/null 2>&1 || true
  local sysroot lld
  sysroot=$(/usr/bin/rustc --print sysroot)
  # The Debian rustc ships no rust-lld: borrow the one every rustup toolchain has.
  lld=$(ls "$(dirname "$(rustup which rustc)")"/../lib/rustlib/*/bin/rust-lld 2>/dev/null | head -n 1 || true)
  [ -n "$lld" ] || { log "no rust-lld found in the rustup toolchain"; exit 1; }
  if ! has_wasm_std debian-web; then
    log "building the wasm32 standard library from source (about a minute)"
    local tmp
    tmp=$(mktemp -d)
    (
      cd "$tmp"
      mkdir src
      printf '[package]\nname = "stdbuild"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n' >Cargo.toml
      echo '#![no_std]' >src/lib.rs
      # embed-bitcode: the worker's LTO link needs the std's bitcode sections.
      RUSTUP_TOOLCHAIN=debian-web RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cembed-bitcode=yes \
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$lld" \
        /usr/bin/cargo build -q --release --target "$WASM_TARGET" \
        -Zbuild-std=std,panic_abort,panic_unwind
      mkdir -p "$sysroot/lib/rustlib/$WASM_TARGET/lib"
      find "target/$WASM_TARGET/release/deps" -name '*.rlib' ! -name 'libstdbuild-*' \
        -exec cp {} "$sysroot/lib/rustlib/$WASM_TARGET/lib/" \;
    )
    rm -rf "$tmp"
    # Rlibs built against the old sysroot would give "can't find crate for `worker`".
    rm -rf "$root/target/$WASM_TARGET"
  fi
  toolchain_exports="export RUSTUP_TOOLCHAIN=debian-web
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=$lld"
}

# SWITCHYARD_DEBIAN_TOOLCHAIN=1 forces the Debian route (to test it where rustup works).
if [ "${SWITCHYARD_DEBIAN_TOOLCHAIN:-}" = 1 ]; then
  debian_wasm_std
elif has_wasm_std ""; then
  :
elif has_wasm_std debian-web; then
  # Built on an earlier run: do not wait for rustup again.
  debian_wasm_std
elif timeout 120 rustup target add "$WASM_TARGET" >/dev/null 2>&1 && has_wasm_std ""; then
  log "added rustup's $WASM_TARGET target"
else
  log "rustup cannot download $WASM_TARGET here: using Debian's toolchain"
  debian_wasm_std
fi

# --- 2. worker-build and wasm-bindgen-cli ---------------------------------------
# Host tools: built with the default toolchain, installed under .tools/.
if ! "$tools/bin/worker-build" --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install -q worker-build --version "$WORKER_BUILD_VERSION" --root "$tools"
fi
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$root/Cargo.lock")
[ -n "$bindgen_version" ] || { log "no wasm-bindgen in Cargo.lock"; exit 1; }
if ! "$tools/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $bindgen_version\$"; then
  log "installing wasm-bindgen-cli $bindgen_version (a few minutes, once)"
  # Not --locked: its lockfile wants a webpki-roots version the registry no longer serves.
  cargo install -q wasm-bindgen-cli --version "$bindgen_version" --root "$tools" --force
fi

# --- 3. npm: wrangler (workerd, miniflare), esbuild, binaryen, the SDKs ----------
stamp="$root/node_modules/.package-lock.json"
if ! [ -f "$stamp" ] || [ "$root/package-lock.json" -nt "$stamp" ]; then
  log "installing npm packages"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi
# --- 4. Python: prometheus_client, the parser the metrics test reads /metrics with
PROMETHEUS_CLIENT_VERSION=0.26.0
if ! "$tools/py/bin/pip" show prometheus-client 2>/dev/null | grep -x "Version: $PROMETHEUS_CLIENT_VERSION" >/dev/null; then
  log "installing prometheus_client $PROMETHEUS_CLIENT_VERSION in .tools/py"
  python3 -m venv "$tools/py"
  "$tools/py/bin/pip" install -q "prometheus-client==$PROMETHEUS_CLIENT_VERSION"
fi

esbuild=$(ls "$root"/node_modules/@esbuild/linux-*/bin/esbuild 2>/dev/null | head -n 1 || true)
[ -n "$esbuild" ] || esbuild="$root/node_modules/.bin/esbuild"

# --- 5. Chromium, for the tests of the live page (/ui) ---------------------------
if ! [ -x /usr/bin/chromium ]; then
  log "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

cat >"$env_file" <<EOF
# Written by scripts/setup.sh; sourced by the Makefile.
$toolchain_exports
export PATH="$tools/bin:$root/node_modules/.bin:\$PATH"
export WASM_BINDGEN_BIN="$tools/bin/wasm-bindgen"
export ESBUILD_BIN="$esbuild"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
EOF
