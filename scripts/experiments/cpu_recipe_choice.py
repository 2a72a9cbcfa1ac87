"""Which RLHF-strength level should the cpu profile's own replicates train at? Chosen on val, from the sweep's cells.

    .venv/bin/python scripts/experiments/cpu_recipe_choice.py --name cpu_recipe_choice

Issue 46 asks that the cpu recipe move to the level where recovery stops being limited by contrast, if a
replicate of it fits about 45 min. This reads the committed final cells of the sweep
(`data/results/cpu/levels/<level>/replicates/r<k>/`) and, per level and size, over its replicates:

- `val_recovery`: the label-free selected reward's ROC-AUC against the judge on the **val** texts (the selected
  mode and loss, mean over its seeds: `irl.json` `models[selected].val_auc`). Val only: no test or sealed number
  enters the choice;
- `kl`: KL to the start on the val prompts (`rlhf.json` `kl_to_start`), the x of the dose–response;
- `val_judge_gap`: the val demonstrations' mean judge gap (`sampling.json`);
- `minutes`: each cell's wall time for 01–04 (`manifest.json` `total_seconds`, with the `cpu` it ran on). Some cells
  ran beside other work, so a cell's time is an upper bound: the level's cost is its fastest cell on the machine kind
  most cells ran on (`alone_minutes`, `reference_cpu`; a cell on another kind, or one that resumed, is no measurement).

And each level against the strongest, paired by replicate (replicate k of every level shares its seeds).

The rule, fixed before reading the numbers: the chosen level is the weakest (lowest mean KL) level whose val
recovery is not below the strongest level's for either size, i.e. the interval of strongest − level includes 0
or lies below it, among the levels whose fastest cell fits 45 min. Writes data/results/experiments/<name>.json.
"""
import argparse
import json
import statistics

from irlkit import config, layout, replicates, store

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--name", default="cpu_recipe_choice", help="the result's name under data/results/experiments/")
parser.add_argument("--budget-minutes", type=float, default=45.0, help="what a replicate of 01–04 may cost")
args = parser.parse_args()

cfg = config.load("cpu")
levels = [level.name for level in config.STRENGTH["cpu"]]
per_level = {}
for level in levels:
    where = layout.Layout("cpu", level=level)
    cells = sorted(c for c in where.replicates.glob("r*") if (c / "manifest.json").exists())  # finished cells
    per = {"replicates": [c.name for c in cells], "minutes": [], "cpus": [], "sizes": {}}
    for cell in cells:
        read = lambda name: json.loads((cell / f"{name}.json").read_text())  # noqa: E731
        irl, rlhf, sampling, manifest = read("irl")["sizes"], read("rlhf")["sizes"], read("sampling")["sizes"], read("manifest")
        per["minutes"].append(manifest["total_seconds"] / 60)
        per["cpus"].append(manifest.get("cpu", ""))
        for size, r in irl.items():
            out = per["sizes"].setdefault(size, {"val_recovery": [], "kl": [], "val_judge_gap": []})
            out["val_recovery"].append(r["models"][r["selected"]]["val_auc"]["mean"])
            out["kl"].append(rlhf[size]["kl_to_start"]["kl"])
            out["val_judge_gap"].append(sampling[size]["splits"]["val"]["mean_judge_gap"])
    per["summary"] = {size: {q: replicates.interval(v) for q, v in qs.items()} for size, qs in per["sizes"].items()}
    per_level[level] = per

cpus = [c for lv in levels for c in per_level[lv]["cpus"]]
reference_cpu = max(set(cpus), key=cpus.count)
for level in levels:
    on_reference = [m for m, c in zip(per_level[level]["minutes"], per_level[level]["cpus"]) if c == reference_cpu]
    per_level[level]["alone_minutes"] = min(on_reference) if on_reference else float("nan")
strongest = max(levels, key=lambda lv: statistics.fmean(statistics.fmean(s["kl"]) for s in per_level[lv]["sizes"].values()))
n = min(len(per_level[lv]["replicates"]) for lv in levels)
for level in levels:
    per_level[level]["strongest_minus_this"] = {
        size: replicates.paired(per_level[strongest]["sizes"][size]["val_recovery"][:n], qs["val_recovery"][:n])
        for size, qs in per_level[level]["sizes"].items()}

affordable = [lv for lv in levels if per_level[lv]["alone_minutes"] <= args.budget_minutes]
not_worse = [lv for lv in affordable
             if all(d["ci"][0] <= 0 for d in per_level[lv]["strongest_minus_this"].values())]
by_kl = lambda lv: statistics.fmean(statistics.fmean(s["kl"]) for s in per_level[lv]["sizes"].values())  # noqa: E731
chosen = min(not_worse, key=by_kl) if not_worse else None
result = {"rule": "the weakest level (mean KL) whose val recovery is not below the strongest's for either size "
                  "(interval of strongest − level reaches 0), among levels whose fastest cell fits the budget",
          "budget_minutes": args.budget_minutes, "reference_cpu": reference_cpu, "strongest": strongest, "replicates_paired": n,
          "chosen": chosen, "levels": per_level}
print(f"strongest level: {strongest}; paired over {n} replicates; chosen: {chosen}")
for level in levels:
    p = per_level[level]
    line = "; ".join(f"{size}: KL {s['kl']['mean']:.2f}, val recovery {s['val_recovery']['mean']:.3f}, "
                     f"strongest − this {p['strongest_minus_this'][size]['mean']:+.3f} "
                     f"[{p['strongest_minus_this'][size]['ci'][0]:+.3f}, {p['strongest_minus_this'][size]['ci'][1]:+.3f}]"
                     for size, s in p["summary"].items())
    print(f"{level:16} {p['alone_minutes']:5.1f} min  {line}")
store.write_experiment(args.name, result, cfg)
