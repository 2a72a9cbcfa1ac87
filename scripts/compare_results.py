"""Compare two results folders number by number, leaving out what measures time, not results.

    python scripts/compare_results.py /tmp/smoke-before data/results/smoke --out layout_smoke_identical --before-commit 6968d2b

Walks every JSON file both folders hold; `_manifest` (creation time, config hash) and the keys of
`TIMING_KEYS` are skipped. Prints each difference and writes a summary to
data/results/experiments/<out>.json when `--out` is given. Exit code 1 when anything differs.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

from irlkit import layout, store

TIMING_KEYS = {"_manifest", "wall_seconds", "build_seconds"}
SKIPPED_FILES = {"timings.json"}


def differences(a, b, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}/{k}: only in {'before' if k in a else 'after'}" for k in set(a) ^ set(b) if k not in TIMING_KEYS]
        for k in a.keys() & b.keys():
            if k not in TIMING_KEYS:
                out += differences(a[k], b[k], f"{where}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return [] if same else [f"{where}: {a!r} vs {b!r}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--out", help="name of the summary under data/results/experiments/")
    parser.add_argument("--before-commit", default="", help="the commit that made `before` (recorded in the summary)")
    args = parser.parse_args(argv)
    files = sorted({p.name for p in args.before.glob("*.json")} & {p.name for p in args.after.glob("*.json")} - SKIPPED_FILES)
    found, numbers = {}, 0
    for name in files:
        a, b = (json.loads((folder / name).read_text()) for folder in (args.before, args.after))
        found[name] = differences(a, b)
        numbers += len(json.dumps(a))
        for d in found[name]:
            print(f"{name}{d}")
    total = sum(len(d) for d in found.values())
    print(f"{len(files)} files compared ({', '.join(files)}): {total} differences")
    if args.out:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        store.atomic_write_json(layout.experiment_result(args.out), {
            "command": "python scripts/compare_results.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "before_commit": args.before_commit, "after_commit": commit, "files": files, "skipped_keys": sorted(TIMING_KEYS), "skipped_files": sorted(SKIPPED_FILES),
            "differences": {k: v for k, v in found.items()}, "n_differences": total})
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
