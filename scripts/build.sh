#!/usr/bin/env bash
# Builds the Worker into build/: installs what is missing, then runs worker-build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
# shellcheck disable=SC1091
source "$root/.tools/env"
cd "$root"
worker-build --release
