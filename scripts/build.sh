#!/usr/bin/env bash
# Builds the Worker into build/: installs what is missing, then runs worker-build,
# unless build/ is newer than everything it is built from. `wrangler dev` runs
# this script too, and worker-build alone re-runs wasm-opt every time (binaryen's
# JavaScript build here: about a minute), so `make dev` after `make build`, or the
# e2e suite's own `make dev`, would otherwise pay for a build that changes nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
# shellcheck disable=SC1091
source "$root/.tools/env"
cd "$root"
stamp=build/.built
inputs=(Cargo.toml Cargo.lock src core/Cargo.toml core/src config/default.yaml scripts/build.sh)
if [[ -f $stamp && -f build/index_bg.wasm && -f build/worker/shim.mjs ]] &&
  [[ -z $(find "${inputs[@]}" -newer "$stamp" -print -quit) ]]; then
  echo "build/ is up to date"
  exit 0
fi
# Stamped with the time the build starts: a source saved during it is newer.
rm -f "$stamp"
mkdir -p build
touch build/.building
worker-build --release
mv build/.building "$stamp"
