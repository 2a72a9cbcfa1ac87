"""Two finished runs side by side, from what they left in data/runs: RLOO seconds per step, greedy texts.

    .venv/bin/python benchmarks/compare_runs.py cpu-c63b04a cpu

For each policy both runs trained: the median `step_time` of its RLOO log (the first step dropped:
warm-up) and the ratio. For each text set both runs wrote: the share of identical continuations.
"""
import argparse
import statistics

import pandas as pd

from irlkit.layout import Layout

parser = argparse.ArgumentParser()
parser.add_argument("before", help="a folder under data/runs, e.g. cpu-c63b04a")
parser.add_argument("after", help="a folder under data/runs, e.g. cpu")
args = parser.parse_args()
runs = {name: Layout(name) for name in (args.before, args.after)}
for name, run in runs.items():
    if not run.runs.is_dir():
        parser.error(f"no run folder {run.runs}")


def common(folder_of: str) -> list[str]:
    """Labels both runs have a folder of, e.g. `common("policy")`: the policies both trained."""
    return sorted(set.intersection(*(set(run.labels(getattr(run, folder_of))) for run in runs.values())))


print("RLOO step, median seconds after the first")
for label in common("policy"):
    medians = []
    for run in runs.values():
        log = pd.read_json(run.policy(label) / "log.jsonl", lines=True)
        medians.append(statistics.median(log["step_time"].dropna().tolist()[1:]))
    print(f"  {label:45s} {medians[0]:6.2f} → {medians[1]:6.2f}  ({medians[0] / medians[1]:.2f}×)")
print("greedy continuations identical in both runs")
for label in common("texts"):
    before, after = (pd.read_parquet(run.texts(label) / "texts.parquet").set_index("prompt_id").text
                     for run in runs.values())
    same = (before == after.reindex(before.index)).mean()
    print(f"  {label:45s} {same:6.1%} of {len(before)}")
