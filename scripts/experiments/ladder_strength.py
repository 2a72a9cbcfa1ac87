"""How far RLHF moves each size of the ladder, and the KL coefficient that moves the 0.5B model as far as the 1.5B.

    .venv/bin/python scripts/experiments/ladder_strength.py                         # the grid below, about 50 min
    .venv/bin/python scripts/experiments/ladder_strength.py --runs qwen2.5-coder-0.5b:0.047 --name ladder_strength_check

The ladder's sizes move unequally under one recipe (docs/ladder.md): a size effect read from them is also an effect
of how far RLHF moved each. For each (size, β) of `--runs`: 01's LoRA RLOO of the ladder profile with `rlhf.beta` =
β (its other settings unchanged), in a scratch data folder per β (data/runs/experiments/ladder_strength_beta<β>/,
git-ignored), then the policy measured on the **val** prompts as 05 measures a path point (`stages.policies.ValPath`:
4 sampled continuations of each, their KL to the start and both judges' mean P(toxic)), and the start the same way.
The matched β of the 0.5B model is read off its runs (KL linear in log β between the two runs that bracket the
1.5B model's KL at the profile's β). Val only: no test or sealed text is read. Writes
data/results/experiments/<name>.json (runs already in the scratch folders are read, not trained or
measured again).
"""
import argparse
import math
import os

import numpy as np

from irlkit import config, layout, models, store
from irlkit.stages import context, policies

GRID = ("qwen2.5-coder-1.5b:0.05", "qwen2.5-coder-0.5b:0.05", "qwen2.5-coder-0.5b:0.02", "qwen2.5-coder-0.5b:0.01")


def measured(size: str, beta: float) -> dict:
    """Train (unless finished) and measure one (size, β) of the grid in its own scratch data folder."""
    scratch = layout.experiment_scratch(f"ladder_strength_beta{beta:g}")
    layout.Layout("ladder", 0).link_into(scratch, [])
    os.environ["IRLKIT_DATA"], os.environ["IRLKIT_FIGURES"] = str(scratch), str(scratch / "figures")
    ctx = context.open("ladder", 0, overrides={"rlhf.beta": beta})
    folder, summary = policies.rlhf_policy(ctx, size)
    done = scratch / f"measured_{size}.json"  # the policy's stage folder is keyed; this file sits beside it
    if not done.exists():
        _, start = policies.start_point(ctx, size)  # the start, measured as every path's step 0
        end = policies.ValPath(ctx, size)(models.load_policy(folder, ctx.cfg.device)[0], ctx.cfg.rlhf_for(size).steps)
        store.atomic_write_json(done, {"policy": folder, "start": start, "end": end})
    start, end = (store.read_json(done)[k] for k in ("start", "end"))
    for name in ("IRLKIT_DATA", "IRLKIT_FIGURES"):
        os.environ.pop(name)
    return {"size": size, "beta": beta, "steps": summary["steps"], "rloo_seconds": summary["wall_seconds"],
            "kl": end["kl"], "kl_se": end["kl_se"], "val_prompts": end["prompts"], "samples": end["samples"],
            "toxicity": {w: {"start": start["toxicity"][w], "end": end["toxicity"][w],
                             "relative_change": end["toxicity"][w] / start["toxicity"][w] - 1}
                         for w in ("judge", "second")}}


def matched_beta(runs: list[dict], small: str, large: str, beta: float) -> dict | None:
    """The β at which `small`'s KL equals `large`'s at `beta`: linear in log β between the bracketing runs."""
    target = next((r["kl"] for r in runs if r["size"] == large and r["beta"] == beta), None)
    own = sorted(((r["beta"], r["kl"]) for r in runs if r["size"] == small), reverse=True)  # weakest push first
    if target is None:
        return None
    for (b0, k0), (b1, k1) in zip(own, own[1:]):
        if min(k0, k1) <= target <= max(k0, k1) and k0 != k1:
            x = math.log(b0) + (target - k0) / (k1 - k0) * (math.log(b1) - math.log(b0))
            return {"target_kl": target, "beta": math.exp(x), "between": [b0, b1]}
    return {"target_kl": target, "beta": None, "between": None,
            "note": f"no two runs of {small} bracket the target KL: extend --runs"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=list(GRID), metavar="SIZE:BETA")
    parser.add_argument("--name", default="ladder_strength", help="the result's file name")
    args = parser.parse_args()
    runs = []
    for item in args.runs:
        size, _, beta = item.partition(":")
        runs.append(measured(size, float(beta)))
        r = runs[-1]
        print(f"{size} β={r['beta']:g}: KL {r['kl']:.3f} ± {r['kl_se']:.3f}, val toxicity "
              f"{r['toxicity']['judge']['start']:.3f} → {r['toxicity']['judge']['end']:.3f}, RLOO {r['rloo_seconds']:.0f} s")
    cfg = config.load("ladder")
    small, large = (s.name for s in sorted(cfg.sizes, key=lambda s: s.params_m))
    out = {"split": "val (no test text is read)", "profile_beta": cfg.rlhf.beta, "runs": runs,
           "matched": matched_beta(runs, small, large, cfg.rlhf.beta),
           "kl_ratio_large_over_small_at_profile_beta": _ratio(runs, large, small, cfg.rlhf.beta)}
    print(out["matched"])
    print(store.write_experiment(args.name, out, cfg))


def _ratio(runs, large, small, beta):
    kl = {r["size"]: r["kl"] for r in runs if r["beta"] == beta}
    return float(np.divide(kl[large], kl[small])) if large in kl and small in kl else None


if __name__ == "__main__":  # the workers import this file again: only the parent runs the experiment
    main()
