#!/usr/bin/env bash
# Run the whole study for one profile: bootstrap, fetch assets, notebooks 01..06.
#   ./run_all.sh            # the cpu profile (default): real models, offline, 2 cores
#   ./run_all.sh PROFILE    # any profile of irlkit/config.py (`python3 -m irlkit.config` lists them)
# Executed notebooks go to data/runs/<profile>/notebooks/, results to
# data/results/<profile>/, figures to figures/<profile>/. Finished stages are
# skipped, so a killed run resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")"
profiles="$(python3 -m irlkit.config)"  # standard library only: works before .venv exists
profile="${1:-cpu}"
if [[ $# -gt 1 || " $profiles " != *" $profile "* ]]; then
  echo "usage: ./run_all.sh [PROFILE]   profiles: $profiles   (got: ${*:-nothing})" >&2
  exit 2
fi
source scripts/bootstrap.sh
python -m irlkit.assets fetch --profile "$profile"
exec python -m irlkit.runner "$profile" --final  # final replicates: recovery reported on the sealed test set
