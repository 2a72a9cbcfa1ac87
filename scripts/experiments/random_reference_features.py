"""04's random-head reference on the probes' cached features instead of a fresh fp32 pass of the backbone.

The random head of 04 (05's control, scored like a recovered reward) used to score the eval sets through
`ProbeReward`, a new fp32 forward pass of the start backbone over every eval text, while the probe it is
compared with reads the features stage (`irl.feature_precision`, bf16 in the cpu profile). Reading the
same cached features is faster and scores both rewards on the same inputs. This measures, on finished
replicates, how far the reference's test AUC against the judge moves (against its sd over replicates),
the rank agreement of the two scorings, and the wall time of both. Nothing is chosen.

    .venv/bin/python scripts/experiments/random_reference_features.py cpu --replicates 0 1 2

Writes data/results/experiments/random_reference_features_<profile>.json."""
import argparse
import json
import statistics
import time

import numpy as np
from scipy import stats

from irlkit import config, evidence, replicates, stages, store
from irlkit.stages import artifacts, realignment
from irlkit.stages import evaluation as eval_stage

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("profile")
parser.add_argument("--replicates", type=int, nargs="+", default=[0])
args = parser.parse_args()
cfg = config.load(args.profile, progress=False)


def one(ctx, size: str) -> dict:
    demos = stages.artifacts.demos(ctx, size)
    eval_sets = eval_stage.pools(demos, ctx.cfg)
    t0 = time.perf_counter()
    model = realignment._random(ctx, size, 0)
    fresh = {k: model.score(list(p.input)) for k, p in eval_sets.items()}
    fresh_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    head, feats = model.probe, artifacts.features(ctx, size)
    cached = {k: head(feats[k]) for k in eval_sets}
    cached_seconds = time.perf_counter() - t0
    auc = {name: evidence.score(eval_sets, r)["auc"] for name, r in (("fresh_fp32", fresh), ("cached_features", cached))}
    return {"test_auc": auc, "test_auc_diff": auc["cached_features"] - auc["fresh_fp32"],
            "test_spearman": float(stats.spearmanr(fresh["test_pool"], cached["test_pool"])[0]),
            "texts": int(sum(len(p) for p in eval_sets.values())),
            "seconds": {"fresh_fp32": fresh_seconds, "cached_features": cached_seconds},
            "feature_precision": ctx.cfg.irl.feature_precision}


out = {"profile": args.profile, "replicates": {}, "summary": {}}
for k in args.replicates:
    ctx = stages.Context(cfg, k)
    out["replicates"][f"r{k}"] = {spec.name: one(ctx, spec.name) for spec in cfg.sizes}
    print(f"r{k}", json.dumps(out["replicates"][f"r{k}"], indent=1), flush=True)
for spec in cfg.sizes:
    rows = [out["replicates"][f"r{k}"][spec.name] for k in args.replicates]
    diffs = [row["test_auc_diff"] for row in rows]
    fresh = [row["test_auc"]["fresh_fp32"] for row in rows]
    moved = replicates.interval(diffs)
    out["summary"][spec.name] = {
        "n": len(rows), "diffs": diffs, "mean_diff": moved["mean"], "mean_diff_ci95": moved["ci"] if len(rows) > 1 else None,
        "max_abs_diff": float(np.max(np.abs(diffs))),
        "random_auc_sd_over_replicates": statistics.stdev(fresh) if len(fresh) > 1 else None,
        "seconds_median": {p: float(np.median([row["seconds"][p] for row in rows])) for p in ("fresh_fp32", "cached_features")}}
    print(spec.name, out["summary"][spec.name], flush=True)
print(store.write_experiment(f"random_reference_features_{args.profile}", out, cfg))
