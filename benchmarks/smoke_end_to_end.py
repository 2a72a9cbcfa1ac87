"""The smoke profile end to end (both replicates, then 06), two commits side by side on this machine.

    .venv/bin/python benchmarks/smoke_end_to_end.py --commits a1c4120 HEAD --repeats 2

Each commit runs `python -m irlkit.runner smoke` in its own fresh clone (`end_to_end.clone`: this checkout's
assets linked in, an otherwise empty data folder), the commits interleaved repeat by repeat so that a slow
spell of the machine hits both. Writes data/results/bench/<name>.json (default smoke_end_to_end): each
run's wall clock and the runner's seconds per notebook, the median per commit and the ratio last / first,
and, per repeat, the results files in which the two commits differ (`compare_results.different_results`;
`[]`: every number identical). Nothing else may run on the machine meanwhile.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from compare_results import different_results
from end_to_end import clone, clone_env, git

from irlkit import layout, replicates, store


def run(commit: str, into: Path) -> dict:
    clone(commit, into)
    env = clone_env(into)
    print(f"[smoke_end_to_end] {commit} in {into}", flush=True)
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "irlkit.runner", "smoke"], cwd=into, env=env, check=True)
    wall = round(time.time() - t0, 1)
    print(f"[smoke_end_to_end] {commit}: {wall:.0f} s", flush=True)
    return {"wall_seconds": wall, "runner": json.loads((into / "data/results/smoke/timings.json").read_text())}


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
            store.write_benchmark(args.name, result)
        differ = different_results(*(scratch / c / "data/results/smoke" for c in commits))
        result.setdefault("results_differ", []).append(differ)  # per repeat: [] is bit-identical
        store.write_benchmark(args.name, result)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
