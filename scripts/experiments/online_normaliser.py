"""What did the online softmax normaliser (`eval.logprob_vocab_block`, ae09fd0) move in the cpu replicates?

    .venv/bin/python scripts/experiments/online_normaliser.py --old 94d9812 --new HEAD

The normaliser is a numerics change (rounding only), so issue 25 asks for its moves against the spread over
replicates. It feeds two kinds of numbers, both reported and neither chosen on: 04's implicit reward (from the
log-probabilities) and perplexity (01, 05). The script compares the replicates as committed at `--old` (code
3a52794d, the whole vocabulary at once) and at `--new` with `benchmarks/compare_results.py`'s comparison, and
splits every differing number into those two kinds and "anything else", which must be empty: the seeds are the
same, and nothing downstream reads these numbers. For each implicit-reward metric it gives the per-replicate
moves and the sd of that metric over the old replicates; for perplexity the largest relative move.
Writes data/results/experiments/online_normaliser_cpu.json.
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from compare_results import comparable, committed, compared  # noqa: E402

from irlkit import config, store  # noqa: E402

REPLICATES = "data/results/cpu/replicates"


def numbers(value, where: str = "") -> dict[str, float]:
    """Every number of a `comparable` JSON content by its key path."""
    if isinstance(value, dict):
        return {p: x for k, v in value.items() for p, x in numbers(v, f"{where}/{k}").items()}
    if isinstance(value, list):
        return {p: x for i, v in enumerate(value) for p, x in numbers(v, f"{where}[{i}]").items()}
    return {where: float(value)} if isinstance(value, (int, float)) and not isinstance(value, bool) else {}


def kind(path: str) -> str:
    return "implicit" if "implicit" in path else "perplexity" if "perplexity" in path else "other"


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--old", default="94d9812")
parser.add_argument("--new", default="HEAD")
args = parser.parse_args()
args.old, args.new = (subprocess.run(["git", "rev-parse", "--short", c], capture_output=True, text=True, check=True)
                      .stdout.strip() for c in (args.old, args.new))
with tempfile.TemporaryDirectory() as tmp:
    old, new = committed(args.old, REPLICATES, Path(tmp) / "old"), committed(args.new, REPLICATES, Path(tmp) / "new")
    differing = compared(old, new)
    moves, other = {"implicit": {}, "perplexity": {}}, []
    for file, lines in differing.items():
        if not file.endswith(".json"):
            other.append(f"{file}: {lines}")
            continue
        before, after = numbers(comparable(old / file)), numbers(comparable(new / file))
        for path in sorted(before.keys() | after.keys()):
            if before.get(path) != after.get(path):
                k = kind(path)
                if k == "other" or path not in before or path not in after:
                    other.append(f"{file}: {path}: {before.get(path)} vs {after.get(path)}")
                else:
                    moves[k][f"{file}:{path}"] = (before[path], after[path])
    replicate_of = lambda key: key.split("/")[0]  # noqa: E731
    by_metric = {}  # implicit metric (file and key path less the replicate) -> per replicate (before, after)
    for key, pair in moves["implicit"].items():
        by_metric.setdefault(re.sub(r"^r\d+/", "", key), {})[replicate_of(key)] = pair
    every_old = {}  # the sd's yardstick: the metric's value in every old replicate, moved or not
    for r in sorted(p.name for p in old.iterdir()):
        for file in (old / r).glob("*.json"):
            for path, v in numbers(comparable(file)).items():
                every_old.setdefault(f"{file.name}:{path}", []).append(v)
    implicit = {metric: {"moves": {r: b - a for r, (a, b) in sorted(per.items())},
                         "largest_abs_move": max(abs(b - a) for a, b in per.values()),
                         "sd_over_old_replicates": statistics.stdev(every_old[metric])}
                for metric, per in sorted(by_metric.items())}
    for m in implicit.values():
        m["largest_move_over_sd"] = m["largest_abs_move"] / m["sd_over_old_replicates"]
    perplexity = {key: {"before": a, "after": b, "relative_move": (b - a) / a}
                  for key, (a, b) in sorted(moves["perplexity"].items())}
    result = {"old": args.old, "new": args.new, "files_differing": sorted(differing),
              "other_numbers_differing": other, "implicit": implicit, "perplexity": perplexity,
              "implicit_metrics_moved": len(implicit), "perplexities_moved": len(perplexity),
              "largest_implicit_move_over_sd": max((m["largest_move_over_sd"] for m in implicit.values()), default=0.0),
              "largest_perplexity_relative_move": max((abs(p["relative_move"]) for p in perplexity.values()), default=0.0)}
print(json.dumps({k: v for k, v in result.items() if k not in ("implicit", "perplexity")}, indent=1))
for metric, m in implicit.items():
    if metric.endswith("/auc"):
        print(f"{metric}: moves {m['moves']}, sd {m['sd_over_old_replicates']:.4f}")
print(store.write_experiment("online_normaliser_cpu", result, config.load("cpu", progress=False)))
