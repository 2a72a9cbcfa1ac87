"""How far did a numerics change move each headline number, against the spread over replicates?

    .venv/bin/python scripts/experiments/replicate_moves.py --old 7c9d56a --new HEAD --name compile_forward_cpu

Issue 25 asks of a change that alters numerics (rounding) that the metrics it feeds move less than the spread
over replicates. This reads 06's `summary.json` of the cpu profile as committed at `--old` and at `--new` (each
the replicates of one code; replicate k has the same seeds in both) and, for every quantity of every size:

- `moves`: new − old, replicate by replicate (paired: the same seeds);
- `sd_old`: the quantity's sd over the old replicates (the yardstick);
- `mean_move` with a 95% t-interval over the paired replicates (n = 3: t with 2 degrees of freedom);
- `largest_move_over_sd`: the largest |move| of a replicate in units of `sd_old` (inf when the old replicates
  agree exactly and the number moved; NaN when it did not move).

Quantities whose values are identical in every replicate are listed apart (`identical`): what the change
does not feed must be among them. Writes data/results/experiments/<name>.json and prints one line a quantity.
"""
import argparse
import json
import math
import statistics
import subprocess

from scipy import stats

from irlkit import config, layout, store


def summary_at(commit: str) -> dict:
    path = layout.Layout("cpu").summary.relative_to(layout.ROOT)
    return json.loads(subprocess.run(["git", "show", f"{commit}:{path}"], capture_output=True, text=True,
                                     check=True).stdout)


def moved(old: list[float], new: list[float]) -> dict:
    moves = [b - a for a, b in zip(old, new)]
    sd, n = statistics.stdev(old), len(moves)
    half = stats.t.ppf(0.975, n - 1) * statistics.stdev(moves) / math.sqrt(n)
    largest = max(abs(m) for m in moves)
    return {"old": old, "new": new, "moves": moves, "sd_old": sd, "mean_move": statistics.fmean(moves),
            "mean_move_ci": [statistics.fmean(moves) - half, statistics.fmean(moves) + half],
            "largest_move_over_sd": largest / sd if sd else (math.inf if largest else math.nan)}


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--old", required=True)
parser.add_argument("--new", default="HEAD")
parser.add_argument("--name", required=True, help="the result's name under data/results/experiments/")
args = parser.parse_args()
old, new = summary_at(args.old), summary_at(args.new)
result = {"old": {"commit": args.old, "code_hash": old["code_hash"], "config_hash": old["config_hash"]},
          "new": {"commit": args.new, "code_hash": new["code_hash"], "config_hash": new["config_hash"]},
          "identical": [], "moved": {}}
for size, quantities in new["sizes"].items():
    for name, q in quantities.items():
        before = old["sizes"][size].get(name)
        usable = lambda values: len(values) > 1 and all(isinstance(v, (int, float)) and math.isfinite(v)  # noqa: E731
                                                        for v in values)
        if before is None or len(before["values"]) != len(q["values"]) or not usable(before["values"] + q["values"]):
            # one replicate only (the transfer arm), or a value missing: no sd to measure a move against
            result.setdefault("not_comparable", {})[f"{size}/{name}"] = {"old": before and before["values"],
                                                                        "new": q["values"]}
        elif before["values"] == q["values"]:
            result["identical"].append(f"{size}/{name}")
        else:
            m = result["moved"][f"{size}/{name}"] = moved(before["values"], q["values"])
            print(f"{size:14s} {name:34s} old {statistics.fmean(m['old']):+.4f} (sd {m['sd_old']:.4f})  "
                  f"move {m['mean_move']:+.4f} [{m['mean_move_ci'][0]:+.4f}, {m['mean_move_ci'][1]:+.4f}]  "
                  f"largest {m['largest_move_over_sd']:.2f} sd")
finite = [m["largest_move_over_sd"] for m in result["moved"].values() if math.isfinite(m["largest_move_over_sd"])]
result["n_moved"], result["n_identical"] = len(result["moved"]), len(result["identical"])
result["moved_beyond_one_sd"] = sorted(k for k, m in result["moved"].items() if not m["largest_move_over_sd"] <= 1)
result["mean_move_interval_excludes_zero"] = sorted(k for k, m in result["moved"].items()
                                                    if m["mean_move_ci"][0] > 0 or m["mean_move_ci"][1] < 0)
result["median_largest_move_over_sd"] = statistics.median(finite) if finite else None
print(f"identical: {result['n_identical']}, moved: {result['n_moved']}, beyond one sd: "
      f"{result['moved_beyond_one_sd']}, mean move excludes 0: {result['mean_move_interval_excludes_zero']}")
print(store.write_experiment(args.name, result, config.load("cpu", progress=False)))
