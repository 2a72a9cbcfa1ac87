#!/usr/bin/env bash
# Sourced by run_all.sh and run_tests.sh: make .venv hold the locked stack (requirements.lock).
# Idempotent: when .venv was built from this exact pyproject.toml and lock, it does nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.irlkit-stamp"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" | sha256sum | cut -d' ' -f1)"

if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
  PY="${PYTHON:-python3.11}"
  command -v "$PY" >/dev/null || PY=python3
  "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null \
    || { echo "bootstrap: Python 3.11 is required (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2; exit 1; }
  echo "bootstrap: building $VENV from requirements.lock (first run only)" >&2
  [[ -d "$VENV" ]] || "$PY" -m venv "$VENV"
  # every package at its locked version (torch: the CPU wheel), then irlkit itself, which asks for nothing more;
  # pip's warnings go to a log, shown only if the install fails
  # A flaky network cuts large wheels short: pip resumes a download up to 20 times, and the whole install is
  # tried 3 times (wheels already fetched come from pip's cache).
  log="$VENV/bootstrap.log"
  : >"$log"
  _bootstrap_install() {  # sourced: a private name, removed below
    "$VENV/bin/python" -m pip install --quiet --upgrade pip \
      && "$VENV/bin/python" -m pip install --quiet --retries 10 --resume-retries 20 -r "$ROOT/requirements.lock" \
      && "$VENV/bin/python" -m pip install --quiet --no-deps -e "$ROOT"
  }
  ok=0
  for attempt in 1 2 3; do
    if _bootstrap_install 2>>"$log"; then ok=1; break; fi
    (( attempt < 3 )) && { echo "bootstrap: install attempt $attempt failed; retrying" >&2; sleep $((attempt * 15)); }
  done
  unset -f _bootstrap_install
  (( ok )) || { cat "$log" >&2; echo "bootstrap: installing the locked stack failed (above; also in $log)" >&2; exit 1; }
  echo "$want" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONHASHSEED=0
# No hub at run time: every model and data set comes from data/ (see irlkit.assets).
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1
export TOKENIZERS_PARALLELISM=false
# Back malloc's heap with transparent huge pages: the large tensors freed and reallocated every training
# step then cost fewer page faults: faster RLOO steps, bit-identical results (benchmarks/README.md,
# bench_malloc.py). Read at process start; glibc < 2.35 ignores it.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
