"""Would bf16 log-probabilities move the implicit reward? 04's continuation log-probabilities of finished
replicates, computed again with both policies (RLHF and start) in bf16: the implicit reward's test AUC
β·log π_RLHF/π_start in both precisions, their rank agreement, and the wall time of both on the same
texts. The companion of `features_bf16.py` (issue 25: a change of numerics must move its metric less
than the spread over replicates). Only test is compared; nothing is chosen.

    .venv/bin/python scripts/experiments/logprobs_bf16.py cpu --replicates 0 1 2
    .venv/bin/python scripts/experiments/logprobs_bf16.py ladder --sizes qwen2.5-coder-0.5b qwen2.5-coder-1.5b

The yardstick is the sd of `implicit_auc` over the profile's committed replicates
(`data/results/<profile>/summary.json`), when there are at least two. Timing: the first 48 test
continuations under the first replicate's RLHF policy, both precisions, alternating, twice; medians.
Writes data/results/experiments/logprobs_bf16_<profile>.json."""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from scipy import stats

from irlkit import config, implicit, irl, layout, metrics, models, replicates, stages, store
from irlkit.stages import graph
from irlkit.stages.evaluation import IMPLICIT_POLICIES, pool_logprobs

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("profile")
parser.add_argument("--replicates", type=int, nargs="+", default=[0])
parser.add_argument("--sizes", nargs="+", help="default: the profile's sizes")
args = parser.parse_args()
cfg = config.load(args.profile, progress=False)
sizes = args.sizes or [s.name for s in cfg.sizes]


def one(ctx, size: str, time_it: bool) -> dict:
    demos = stages.artifacts.demos(ctx, size)
    test = demos[demos.split == "test"]
    prompts, conts = list(test.prompt) * 3, list(test.original_output) + list(test.expert_text) + list(test.start_text)
    logp = {"fp32": {p: dict(np.load(pool_logprobs(ctx, size, p) / "logprobs.npz")) for p in IMPLICIT_POLICIES}, "bf16": {}}
    seconds = {"fp32": [], "bf16": []}
    for policy in IMPLICIT_POLICIES:
        folder = str(graph.require(ctx, "rlhf_policy", size=size)) if policy == "rlhf" else ctx.start(size)
        model, tok = models.load_policy(folder)
        tok.padding_side = "right"
        if policy == "rlhf" and time_it:
            for _ in range(2):
                for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
                    model.to(dtype)
                    t0 = time.perf_counter()
                    implicit.continuation_logprobs(model, tok, prompts[:48], conts[:48])
                    seconds[precision].append(time.perf_counter() - t0)
        model.to(torch.bfloat16)
        print(f"[logprobs_bf16] r{ctx.replicate} {size}-{policy}: {len(conts)} test continuations in bf16", flush=True)
        lp, n = implicit.continuation_logprobs(model, tok, prompts, conts)
        logp["bf16"][policy] = {"test_logp": lp, "test_tokens": n}
        del model
    pool = irl.text_pool(demos, "test", cfg.irl.with_prompt)
    reward = {precision: implicit.implicit_reward(logp[precision]["rlhf"]["test_logp"], logp[precision]["start"]["test_logp"],
                                                  logp[precision]["rlhf"]["test_tokens"], beta=cfg.rlhf_for(size).beta)["sum"]
              for precision in logp}
    auc = {precision: metrics.reward_vs_judge(r, pool.p_judge.values)["auc"] for precision, r in reward.items()}
    gap = np.abs(logp["bf16"]["rlhf"]["test_logp"] - logp["fp32"]["rlhf"]["test_logp"])
    row = {"implicit_test_auc": auc, "implicit_test_auc_diff": auc["bf16"] - auc["fp32"],
           "implicit_spearman": float(stats.spearmanr(reward["fp32"], reward["bf16"])[0]),
           "rlhf_logp_abs_diff_median": float(np.median(gap)), "rlhf_logp_abs_diff_max": float(gap.max())}
    if time_it:
        row.update(texts_timed=48, seconds={k: float(np.median(v)) for k, v in seconds.items()},
                   speedup=float(np.median(seconds["fp32"]) / np.median(seconds["bf16"])))
    return row


out = {"profile": args.profile, "replicates": {}, "summary": {}}
for i, k in enumerate(args.replicates):
    ctx = stages.Context(cfg, k)
    out["replicates"][f"r{k}"] = {size: one(ctx, size, time_it=i == 0) for size in sizes}
    print(f"r{k}", json.dumps(out["replicates"][f"r{k}"], indent=1), flush=True)
summary_path = layout.Layout(args.profile).results / "summary.json"
spread = json.loads(summary_path.read_text())["sizes"] if summary_path.exists() else {}
for size in sizes:
    diffs = [out["replicates"][f"r{k}"][size]["implicit_test_auc_diff"] for k in args.replicates]
    values = spread.get(size, {}).get("implicit_auc", {}).get("values", [])
    moved = replicates.interval(diffs)  # the t-interval every replicate quantity gets
    out["summary"][size] = {
        "n": len(diffs), "diffs": diffs, "mean_diff": moved["mean"], "max_abs_diff": float(np.max(np.abs(diffs))),
        "mean_diff_ci95": moved["ci"] if len(diffs) > 1 else None,
        "implicit_auc_sd_over_replicates": statistics.stdev(values) if len(values) > 1 else None}
    print(size, out["summary"][size], flush=True)
print(store.write_experiment(f"logprobs_bf16_{args.profile}", out, cfg))
