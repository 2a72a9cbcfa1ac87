"""How many RLOO runs per arm re-alignment needs: the true arm's run-to-run spread on val, sampled against greedy.

    .venv/bin/python scripts/experiments/realign_power.py --runs 4                      # about 50 min on 2 free cores
    .venv/bin/python scripts/experiments/realign_power.py --runs 4 --recipe 24x8 --set rlhf.prompts_per_step=8

For each size of the cpu profile, `--runs` RLOO runs of the true reward (05's true arm: 01's recipe, training seed
the replicate's + run), in a scratch data folder (data/runs/experiments/realign_power/, git-ignored), each measured
on the val prompts as it trains (`eval.path_every`). For each run, two endpoints relative to the start's:

- **sampled** (05's primary endpoint, on val): the path's last point, 4 continuations (temperature 1) per val prompt,
  mean P(toxic) under each judge;
- **greedy** (the endpoint 05 used before): the share of greedy val continuations a judge scores toxic.

Over runs, per size and judge: the run-to-run sd of each relative change, the sd ratio sampled / greedy, and the
RLOO runs per arm that give a difference of two arms 80% power (two-sided 5%) at a 0.1 relative difference,
n = 2 (z₀.₉₇₅ + z₀.₈)² sd² / 0.1², taking the IRL arm's spread to be the true arm's. The val endpoint has 100
prompts, 05's final one about 1,100 (val, test and the sealed set): the sampled spread is split into the runs' own
and the measurement's (a two-way analysis of variance of the per-prompt values, runs × prompts) and predicted at the
final endpoint's number of prompts, with the runs per arm it needs. Writes
data/results/experiments/realign_power_<recipe>.json. Val only: no test or sealed text is read (the sealed set is
loaded to count its prompts).
"""
import argparse
import dataclasses
import math
import os

import numpy as np

from irlkit import config, data, layout, metrics, rlhf, store  # paths are read when used: IRLKIT_DATA set in main() counts
from irlkit.stages import context, graph, policies

Z = 1.959964 + 0.841621  # two-sided 5%, 80% power
DELTA = 0.1


def train(ctx, size: str, run: int) -> None:
    policies.rlhf_policy(ctx, size, run)


def runs_per_arm(sd: float) -> int | None:
    return math.ceil(2 * Z ** 2 * sd ** 2 / DELTA ** 2) if sd == sd else None


def components(per_prompt: np.ndarray, before: float, endpoint_prompts: int) -> dict:
    """The run-to-run spread of a relative change split in two (a two-way analysis of variance over runs × prompts):
    the runs' own (what more RLOO runs average away) and the measurement's (prompt × run and sampling noise, what
    more evaluation prompts average away); and the spread predicted at the endpoint's `endpoint_prompts`."""
    r, p = per_prompt.shape
    resid = per_prompt - per_prompt.mean(1, keepdims=True) - per_prompt.mean(0, keepdims=True) + per_prompt.mean()
    measurement = float((resid ** 2).sum() / ((r - 1) * (p - 1)))
    run = max(0.0, float(per_prompt.mean(1).var(ddof=1)) - measurement / p)
    predicted = math.sqrt(run + measurement / endpoint_prompts) / before
    return {"run_sd": math.sqrt(run) / before, "measurement_sd_at_val": math.sqrt(measurement / p) / before,
            "endpoint_prompts": endpoint_prompts, "predicted_sd_at_endpoint": predicted,
            "runs_per_arm_for_80pct_power_at_endpoint": runs_per_arm(predicted)}


def summarise(values: list[float]) -> dict:
    v = np.asarray(values, float)
    sd = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    return {"runs": v.tolist(), "mean": float(v.mean()), "sd": sd,
            "runs_per_arm_for_80pct_power": runs_per_arm(sd)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--recipe", default="24x4", help="the recipe's name in the result file")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    args = parser.parse_args()

    scratch = layout.experiment_scratch(f"realign_power_{args.recipe}")
    layout.Layout("cpu", 0).link_into(scratch, [])
    os.environ["IRLKIT_DATA"], os.environ["IRLKIT_FIGURES"] = str(scratch), str(scratch / "figures")
    overrides = {**dict(config.parse_setting(s) for s in args.set), "refinetune.enabled": False}
    ctx = context.open("cpu", 0, overrides=overrides)
    sizes = [spec.name for spec in ctx.cfg.sizes]
    context.in_parallel(ctx, [(f"{size} true run {run}", train, size, run)
                              for size in context.largest_first(ctx.cfg) for run in range(args.runs)])

    # 05's endpoint at the final replicates: val, the development test split and the sealed set (their number only)
    final = dataclasses.replace(ctx.cfg, data=dataclasses.replace(ctx.cfg.data, sealed=True))
    endpoint_prompts = int(data.load_prompts(final).split.isin(["val", "test", "sealed"]).sum())
    out = {}
    for size in sizes:
        start_greedy = policies.policy_texts(ctx, f"{size}-start", ctx.start(size), prompts="val", shared=True)
        runs = [policies.rlhf_policy(ctx, size, run) for run in range(args.runs)]
        paths = [rlhf.read_path(folder) for folder, _ in runs]
        start = paths[0][0]  # step 0 of every run: the start, the same random numbers
        entry = {"steps": ctx.cfg.rlhf_for(size).steps, "kl": summarise([p[-1]["kl"] for p in paths]),
                 "rloo_seconds": summarise([s["wall_seconds"] for _, s in runs]),
                 "path_seconds": summarise([s["path_seconds"] for _, s in runs])}
        for which in ("judge", "second"):
            sampled = [p[-1]["toxicity"][which] / start["toxicity"][which] - 1 for p in paths]
            before = float(metrics.is_toxic(start_greedy[f"p_{which}"].values).mean())
            greedy = []
            for run, (folder, _) in enumerate(runs):
                texts = policies.policy_texts(ctx, graph.policy_label(size, "true", run), folder, prompts="val")
                greedy.append(float(metrics.is_toxic(texts[f"p_{which}"].values).mean()) / before - 1)
            s, g = summarise(sampled), summarise(greedy)
            per_prompt = np.array([p[-1]["per_prompt"][which] for p in paths])
            entry[which] = {"start_sampled_mean": start["toxicity"][which], "start_greedy_ratio": before,
                            "sampled_relative_change": s, "greedy_relative_change": g,
                            "sd_ratio_sampled_over_greedy": s["sd"] / g["sd"] if g["sd"] else float("nan"),
                            "sampled_components": components(per_prompt, start["toxicity"][which], endpoint_prompts)}
        out[size] = entry

    for name in ("IRLKIT_DATA", "IRLKIT_FIGURES"):  # the result goes to the checkout's folders
        os.environ.pop(name)
    print(store.write_experiment(f"realign_power_{args.recipe}", {
        "recipe": args.recipe, "overrides": args.set, "runs": args.runs, "split": "val (the test split is not read)",
        "val_prompts": int((ctx.prompts.split == "val").sum()), "endpoint_prompts": endpoint_prompts, "samples_per_prompt": ctx.cfg.eval.kl_samples,
        "power": {"delta": DELTA, "alpha": 0.05, "power": 0.8}, "sizes": out}, ctx.cfg))


if __name__ == "__main__":  # the workers import this file again: only the parent runs the experiment
    main()
