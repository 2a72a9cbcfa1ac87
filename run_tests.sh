#!/usr/bin/env bash
# The test command: unit tests of irlkit plus the smoke profile end to end.
#   ./run_tests.sh            (extra arguments go to pytest, e.g. -k store)
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
python -m irlkit.assets fetch --profile smoke
exec python -m pytest "$@"
