#!/usr/bin/env bash
# Runs every fuzz target of switchyard_core::fuzzing for FUZZ_SECONDS each, and
# prints what each executed. libFuzzer (cargo-fuzz, installed under .tools/ on
# first use) where a nightly toolchain can be had, else the fuzz crate's seeded
# loop on stable. A crash or a hang leaves its input in fuzz/artifacts/<target>/
# and makes the command fail, after every target has run.
#
#   FUZZ_SECONDS=60          seconds per target
#   FUZZ_TARGETS="sse usage" the targets to run (default: all, one per fuzz/seeds/ folder)
#   FUZZ_ENGINE=auto         auto, libfuzzer or stable
#   FUZZ_SANITIZER=none      libFuzzer's: none (fastest: the core has no unsafe code) or address
#
# Inputs libFuzzer finds that reach new code are kept in fuzz/corpus/<target>/
# (not committed) and feed the next run, of either engine; fuzz/seeds/ holds the
# committed seeds. Each target's output is in fuzz/logs/<target>.log.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-60}
engine=${FUZZ_ENGINE:-auto}
sanitizer=${FUZZ_SANITIZER:-none}
targets=${FUZZ_TARGETS:-$(ls fuzz/seeds)}
targets=${targets//,/ }
log() { printf 'fuzz: %s\n' "$*" >&2; }

if [ "$engine" = auto ]; then
  if rustup run nightly rustc --version >/dev/null 2>&1; then engine=libfuzzer; else engine=stable; fi
fi
if [ "$engine" = libfuzzer ] && ! [ -x .tools/bin/cargo-fuzz ]; then
  log "installing cargo-fuzz under .tools/ (once)"
  if ! cargo install -q cargo-fuzz --locked --root .tools; then
    log "cargo-fuzz could not be installed: using the stable loop"
    engine=stable
  fi
fi

fuzz_flags=(--release --debug-assertions --sanitizer "$sanitizer" --features libfuzzer)
if [ "$engine" = libfuzzer ]; then
  log "building the libFuzzer binary (nightly, sanitizer: $sanitizer)"
  PATH="$root/.tools/bin:$PATH" cargo +nightly fuzz build "${fuzz_flags[@]}" libfuzzer || exit 1
else
  log "building the stable loop"
  cargo build -q --release --manifest-path fuzz/Cargo.toml --bin stable || exit 1
fi

mkdir -p fuzz/logs
rows=()
failed=0
for target in $targets; do
  corpus=fuzz/corpus/$target
  artifacts=fuzz/artifacts/$target
  logfile=fuzz/logs/$target.log
  mkdir -p "$corpus" "$artifacts"
  log "$target: $seconds s ($engine)"
  started=$SECONDS
  if [ "$engine" = libfuzzer ]; then
    SWITCHYARD_FUZZ_TARGET=$target PATH="$root/.tools/bin:$PATH" \
      cargo +nightly fuzz run "${fuzz_flags[@]}" libfuzzer "$corpus" "fuzz/seeds/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 >"$logfile" 2>&1
    status=$?
    inputs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logfile" | tail -n 1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$logfile" | tail -n 1)
    kept=$(sed -n 's/.*Test unit written to \(\S*\).*/\1/p' "$logfile" | tail -n 1)
  else
    fuzz/target/release/stable "$target" --seconds "$seconds" --corpus "$corpus" \
      --artifacts "$artifacts" >"$logfile" 2>&1
    status=$?
    inputs=$(sed -n 's/.*: \([0-9]*\) inputs in .*/\1/p; s/.* after \([0-9]*\) inputs in .*/\1/p' "$logfile" | tail -n 1)
    took=$(sed -n 's/.* inputs in \([0-9.]*\) s.*/\1/p' "$logfile" | tail -n 1)
    kept=$(sed -n 's/.*input kept in \(\S*\).*/\1/p' "$logfile" | tail -n 1)
  fi
  took=${took:-$((SECONDS - started))}
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    failed=1
    result="FAILED (exit $status): ${kept:-see $logfile}"
  fi
  rows+=("$(printf '%-22s %-10s %12s %8s %8s  %s' "$target" "$engine" "${inputs:-?}" "$took" \
    "$(find "$corpus" -type f | wc -l)" "$result")")
done

printf '\n%-22s %-10s %12s %8s %8s  %s\n' target engine inputs seconds corpus result
printf '%s\n' "${rows[@]}"
exit "$failed"
