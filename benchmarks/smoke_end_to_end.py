"""The smoke profile end to end (both replicates, then 06), two commits side by side on this machine.

    .venv/bin/python benchmarks/smoke_end_to_end.py --commits a1c4120 HEAD --repeats 2

Each commit runs `python -m irlkit.runner smoke` in its own fresh clone (`end_to_end.clone`: this checkout's
assets linked in, an otherwise empty data folder), the commits interleaved repeat by repeat so that a slow
spell of the machine hits both. Writes data/results/experiments/<name>.json (default smoke_end_to_end): each
run's wall clock and the runner's seconds per notebook, the median per commit and the ratio last / first,
and, per repeat, the results files in which the two commits differ (`[]`: every number identical; wall
times, creation times and the code hash are left out). Nothing else may run on the machine meanwhile.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from end_to_end import ENV, clone, git

from irlkit import layout, replicates, store

TIMING_FILES = {"timings.json", "manifest.json"}
"""Results files of wall times and provenance only."""
VOLATILE = {"created", "wall_seconds", "code_hash"}
"""Keys of the other results files that differ between any two runs (when, how long) or commits (the code hash)."""


def _comparable(path: Path):
    """The file's content less what differs between any two runs: `VOLATILE` keys, the report's wall-time line."""
    if path.suffix == ".json":
        strip = lambda v: ({k: strip(x) for k, x in v.items() if k not in VOLATILE} if isinstance(v, dict)  # noqa: E731
                           else [strip(x) for x in v] if isinstance(v, list) else v)
        return strip(json.loads(path.read_text()))
    if path.suffix == ".md":
        return [line for line in path.read_text().splitlines() if not line.startswith("Wall time")]
    return path.read_bytes()


def run(commit: str, into: Path) -> dict:
    clone(commit, into)
    env = {**os.environ, **ENV, "PYTHONPATH": str(into)}
    env.pop("IRLKIT_DATA", None)
    print(f"[smoke_end_to_end] {commit} in {into}", flush=True)
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "irlkit.runner", "smoke"], cwd=into, env=env, check=True)
    wall = round(time.time() - t0, 1)
    print(f"[smoke_end_to_end] {commit}: {wall:.0f} s", flush=True)
    return {"wall_seconds": wall, "runner": json.loads((into / "data/results/smoke/timings.json").read_text())}


def different_results(a: Path, b: Path) -> list[str]:
    """Results files (but `TIMING_FILES`) that differ between two runs' data/results/smoke beyond `_comparable`,
    or that only one run has."""
    files = lambda root: {p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.name not in TIMING_FILES}  # noqa: E731
    fa, fb = files(a), files(b)
    return sorted(str(p) for p in fa ^ fb) + sorted(str(p) for p in fa & fb if _comparable(a / p) != _comparable(b / p))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", nargs=2, default=["a1c4120", "HEAD"], metavar=("BASE", "NEW"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--name", default="smoke_end_to_end")
    args = parser.parse_args(argv)
    commits = [git("rev-parse", "--short", c) for c in args.commits]
    result = {"cpu": replicates.cpu_model(), "command": "python -m irlkit.runner smoke (fresh clone, empty data folder)",
              "runs": {c: [] for c in commits}}
    scratch = layout.experiment_scratch("smoke_end_to_end")
    for repeat in range(args.repeats):
        for commit in commits:
            result["runs"][commit].append(run(commit, scratch / commit))
            medians = {c: statistics.median(r["wall_seconds"] for r in rows) for c, rows in result["runs"].items() if rows}
            result["median_wall_seconds"] = medians
            if len(medians) == 2:
                result["ratio_new_to_base"] = round(medians[commits[1]] / medians[commits[0]], 3)
            store.write_experiment(args.name, result)
        differ = different_results(*(scratch / c / "data/results/smoke" for c in commits))
        result.setdefault("results_differ", []).append(differ)  # per repeat: [] is bit-identical
        store.write_experiment(args.name, result)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
