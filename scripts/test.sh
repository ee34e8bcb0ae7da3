#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install, build the compiled binary, run every
# unit and end-to-end test. Ends with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./node_modules/.bin/bun scripts/build.ts
exec ./node_modules/.bin/bun scripts/test.ts "$@"
