#!/usr/bin/env bash
# Run the whole study for one profile: bootstrap, fetch assets, notebooks 01..06.
#   ./run_all.sh            # cpu profile (default): real models, offline, about 1.5 h (80 and 77 min measured) on 2 cores
#   ./run_all.sh smoke      # tiny models, minutes: what the tests run
#   ./run_all.sh paper      # the study's scale: Pythia from the Hub, needs a GPU
# Executed notebooks go to data/runs/<profile>/notebooks/, results to
# data/results/<profile>/, figures to figures/<profile>/. Finished stages are
# skipped, so a killed run resumes where it stopped.
set -euo pipefail
PROFILES="smoke cpu paper"
profile="${1:-cpu}"
if [[ $# -gt 1 || " $PROFILES " != *" $profile "* ]]; then
  echo "usage: ./run_all.sh [smoke|cpu|paper]   (got: ${*:-nothing})" >&2
  exit 2
fi
cd "$(dirname "$0")"
source scripts/bootstrap.sh
python -m irlkit.assets fetch --profile "$profile"
exec python -m irlkit.runner "$profile"
