"""What label-free recovery, measured within source, shows at cpu scale: replicates of the cpu profile through
01–04 (development: the test split, never the sealed set), in a scratch data folder, then their summary.

    .venv/bin/python scripts/experiments/label_free_recovery.py --replicates 0 1 2   # about 15–20 min each, 2 cores
    .venv/bin/python scripts/experiments/label_free_recovery.py --replicates 0 1 2 --summarise-only
    .venv/bin/python scripts/experiments/label_free_recovery.py --figures-only   # redraw from the committed result

Each replicate is `python -m irlkit.runner cpu --replicate k --only 01_rlhf 02_sampling 03_irl 04_eval` with
`refinetune.enabled=false` (a replicate then ends at 04), its results and figures in
data/runs/experiments/label_free_recovery/ (git-ignored). A replicate already finished there is skipped, so a
killed run resumes. Writes data/results/experiments/label_free_recovery_cpu.json: the summary over the
replicates (`replicates.summarise`: every quantity with its interval, the paired claims with Holm-adjusted p,
the cross-replicate agreement) and each replicate's selection (label-free and oracle) and null band; and its two
figures, figures/experiments/label_free_recovery.png and label_free_recovery_agreement.png.
"""
import argparse
import os
import sys

from irlkit import layout

NAME = "label_free_recovery"
OVERRIDES = {"refinetune.enabled": False}

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--replicates", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--summarise-only", action="store_true")
parser.add_argument("--figures-only", action="store_true",
                    help="draw the two figures from the committed result file, which stays as it is")
args = parser.parse_args()


def draw(summary: dict) -> None:
    from irlkit import plots

    plots.save(plots.figure_over_replicates(summary, "recovery"), NAME, layout.experiment_figures())
    plots.save(plots.cross_replicate(summary), NAME + "_agreement", layout.experiment_figures())


if args.figures_only:
    import json

    draw(json.loads(layout.experiment_result(NAME + "_cpu").read_text())["result"]["summary"])
    sys.exit(0)

main = layout.Layout("cpu")
scratch = layout.experiment_scratch(NAME)
main.link_into(scratch, [])  # the assets (raw/, models/) only: every stage is built here
os.environ["IRLKIT_DATA"], os.environ["IRLKIT_FIGURES"] = str(scratch), str(scratch / "figures")

from irlkit import config, replicates, runner, store  # noqa: E402  (after IRLKIT_DATA is set)

cfg = config.load("cpu", **OVERRIDES)
where = layout.Layout("cpu")
if not args.summarise_only:
    for k in args.replicates:
        if where.of_replicate(k).manifest.exists():
            print(f"[skip] replicate {k}: finished in {where.of_replicate(k).results}", flush=True)
            continue
        runner.run("cpu", only=runner.PER_REPLICATE[:4], parameters={"SEED": 0, "OVERRIDES": OVERRIDES}, replicate=k)
runs, left_out = replicates.collect(where, cfg)
if len(runs) < 2:
    sys.exit(f"{len(runs)} finished replicate(s) in {where.replicates}: need two or more ({left_out})")
summary = replicates.summarise(runs)
per_replicate = {f"r{k}": {size: {"selected": s["selected"], "oracle_selected": s["oracle_selected"],
                                  "null_band": s["null_band"], "ceiling_C": s.get("ceiling", {}).get("C"),
                                  "ceiling_C_interior": s.get("ceiling", {}).get("C_interior"),
                                  "halves": s.get("halves")}
                           for size, s in r["irl"]["sizes"].items()} for k, r in runs.items()}
timings = store.read_json(where.result("timings")) if where.result("timings").exists() else {}
for name in ("IRLKIT_DATA", "IRLKIT_FIGURES"):  # the result and its figures go to the checkout's folders
    os.environ.pop(name)
print(store.write_experiment(NAME + "_cpu", {"overrides": OVERRIDES, "split": "test (development)", "summary": summary,
                                             "per_replicate": per_replicate, "left_out": left_out,
                                             "seconds": timings.get("replicates", {})}, cfg))
draw(summary)
