"""Would bf16 log-probabilities move the implicit reward? 04's continuation log-probabilities of a finished
replicate, computed again with both policies (RLHF and start) in bf16: the implicit reward's test AUC
β·log π_RLHF/π_start in both precisions, their rank agreement, and the wall time of both on the same
texts. The companion of `features_bf16.py` (issue 25: a change of numerics must move its metric less
than the spread over replicates). Only test is compared; nothing is chosen.

    .venv/bin/python scripts/experiments/logprobs_bf16.py ladder qwen2.5-coder-0.5b qwen2.5-coder-1.5b

Writes data/results/experiments/logprobs_bf16_<profile>.json."""
import sys
import time

import numpy as np
import torch
from scipy import stats

from irlkit import config, implicit, irl, metrics, models, stages, store
from irlkit.stages.eval import IMPLICIT_POLICIES, pool_logprobs
from irlkit.stages.policies import start_folder
from irlkit.stages.rlhf import checked_rlhf_policy

profile, sizes = sys.argv[1], sys.argv[2:]
cfg = config.load(profile, progress=False)
ctx = stages.Context(cfg, 0)
out = {"profile": profile, "replicate": 0, "sizes": {}}
for size in sizes:
    demos = stages.demos.load(ctx, size)
    test = demos[demos.split == "test"]
    prompts, conts = list(test.prompt) * 3, list(test.original_output) + list(test.expert_text) + list(test.start_text)
    logp = {"fp32": {p: dict(np.load(pool_logprobs(ctx, size, p) / "logprobs.npz")) for p in IMPLICIT_POLICIES}, "bf16": {}}
    seconds = {"fp32": [], "bf16": []}
    for policy in IMPLICIT_POLICIES:
        folder = checked_rlhf_policy(ctx, size) if policy == "rlhf" else start_folder(ctx, size)
        model, tok = models.load_policy(folder)
        tok.padding_side = "right"
        if policy == "rlhf":  # timing: the same 48 continuations in both precisions, alternating, twice
            for _ in range(2):
                for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
                    model.to(dtype)
                    t0 = time.perf_counter()
                    implicit.continuation_logprobs(model, tok, prompts[:48], conts[:48])
                    seconds[precision].append(time.perf_counter() - t0)
        model.to(torch.bfloat16)
        print(f"[logprobs_bf16] {size}-{policy}: {len(conts)} test continuations in bf16", flush=True)
        lp, n = implicit.continuation_logprobs(model, tok, prompts, conts)
        logp["bf16"][policy] = {"test_logp": lp, "test_tokens": n}
        del model
    pool = irl.text_pool(demos, "test", cfg.irl.with_prompt)
    reward = {precision: implicit.implicit_reward(logp[precision]["rlhf"]["test_logp"], logp[precision]["start"]["test_logp"],
                                                  logp[precision]["rlhf"]["test_tokens"], beta=cfg.rlhf_for(size).beta)["sum"]
              for precision in logp}
    auc = {precision: metrics.reward_vs_judge(r, pool.p_judge.values)["auc"] for precision, r in reward.items()}
    gap = np.abs(logp["bf16"]["rlhf"]["test_logp"] - logp["fp32"]["rlhf"]["test_logp"])
    out["sizes"][size] = {
        "texts_timed": 48, "seconds": {k: float(np.median(v)) for k, v in seconds.items()},
        "speedup": float(np.median(seconds["fp32"]) / np.median(seconds["bf16"])),
        "implicit_test_auc": auc, "implicit_test_auc_diff": auc["bf16"] - auc["fp32"],
        "implicit_spearman": float(stats.spearmanr(reward["fp32"], reward["bf16"])[0]),
        "rlhf_logp_abs_diff_median": float(np.median(gap)), "rlhf_logp_abs_diff_max": float(gap.max())}
    print(size, out["sizes"][size], flush=True)
store.write_experiment(f"logprobs_bf16_{profile}", out, cfg)
