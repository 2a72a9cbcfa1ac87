"""bf16 features in the pipeline itself: the cpu replicates before and after `irl.feature_precision="bf16"`,
paired by replicate (same seeds, same config otherwise). Where a replicate's upstream results (01's RLHF and
02's demonstrations) are identical in both, the only thing that differs is the precision of the probe's
features, so the difference of its test AUC is what the switch moved; full mode (fp32 in both) must not
move at all. The yardstick is the sd of `irl_auc` over the fp32 replicates (issue 25). Test AUCs compared;
val only picks the seed, as in 03.

    .venv/bin/python scripts/experiments/features_bf16_replicates.py --old 1c48f64 --replicates 1 2
    IRLKIT_DATA=/work/aside/cpu .venv/bin/python scripts/experiments/features_bf16_replicates.py   # new ones elsewhere

Old replicates are read from git (`COMMIT:data/results/cpu/replicates/r<k>/`), new ones from this data
folder. Writes data/results/experiments/features_bf16_replicates.json."""
import argparse
import json
import statistics
import subprocess

from irlkit import layout, replicates, store

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--old", default="1c48f64", help="the commit whose committed replicates are the fp32 ones")
parser.add_argument("--replicates", type=int, nargs="+", default=[0, 1, 2])
args = parser.parse_args()


def old(k: int, name: str) -> dict:
    path = layout.Layout("cpu", k).result(name).relative_to(layout.data_dir())
    return json.loads(subprocess.run(["git", "-C", str(layout.ROOT), "show", f"{args.old}:data/{path}"],
                                     check=True, capture_output=True, text=True).stdout)


def new(k: int, name: str) -> dict:
    return json.loads(layout.Layout("cpu", k).result(name).read_text())


def upstream(results) -> dict:
    """What 01 and 02 measured, per size: equal in both runs only if the policies and demonstrations are."""
    return {size: {"rlhf": {k: r[k] for k in ("judge", "second", "perplexity")},
                   "sampling": results["sampling"]["sizes"][size]["splits"]}
            for size, r in results["rlhf"]["sizes"].items()}


out = {"old_commit": args.old, "replicates": {}}
for k in args.replicates:
    runs = {"fp32": {n: old(k, n) for n in ("rlhf", "sampling", "irl", "manifest")},
            "bf16": {n: new(k, n) for n in ("rlhf", "sampling", "irl", "manifest")}}
    row = {"cpu": {p: r["manifest"]["cpu"] for p, r in runs.items()},
           "code_hash": {p: r["manifest"]["code_hash"] for p, r in runs.items()},
           "upstream_identical": upstream(runs["fp32"]) == upstream(runs["bf16"]), "sizes": {}}
    for size in runs["fp32"]["irl"]["sizes"]:
        a, b = (runs[p]["irl"]["sizes"][size] for p in ("fp32", "bf16"))
        models = {}
        for name in a["models"]:
            ma, mb = a["models"][name], b["models"][name]
            models[name] = {"mean_auc": [ma["metrics"]["auc"]["mean"], mb["metrics"]["auc"]["mean"]],
                            "selected_auc": [ma["selected_on_val"]["auc"], mb["selected_on_val"]["auc"]]}
            for v in models[name].values():
                v.append(v[1] - v[0])  # [fp32, bf16, bf16 − fp32]
        row["sizes"][size] = {"selected": [a["selected"], b["selected"]],
                              "irl_auc": [q[size]["irl_auc"] for q in map(replicates.quantities, runs.values())],
                              "models": models}
        row["sizes"][size]["irl_auc"].append(row["sizes"][size]["irl_auc"][1] - row["sizes"][size]["irl_auc"][0])
    out["replicates"][f"r{k}"] = row
sd = {}
for size in row["sizes"]:
    values = [replicates.quantities({n: old(k, n) for n in ("rlhf", "irl")})[size]["irl_auc"] for k in (0, 1, 2)]
    sd[size] = statistics.stdev(values)
out["irl_auc_sd_over_fp32_replicates"] = sd
store.write_experiment("features_bf16_replicates", out)
for k, row in out["replicates"].items():
    print(f"{k}: upstream identical: {row['upstream_identical']}")
    for size, s in row["sizes"].items():
        moved = {name: round(m["selected_auc"][2], 4) for name, m in s["models"].items()}
        print(f"  {size}: irl_auc {s['irl_auc'][0]:.4f} -> {s['irl_auc'][1]:.4f} ({s['irl_auc'][2]:+.4f}; "
              f"sd over replicates {sd[size]:.4f}); selected {s['selected']}; per model, seed chosen on val: {moved}")
