"""Is bf16 compiled further from fp32 than bf16 eager? Features and log-probabilities of both, against fp32.

    .venv/bin/python scripts/experiments/compile_forward_accuracy.py [--texts 128]
    .venv/bin/python scripts/experiments/compile_forward_accuracy.py --profile ladder   # -> compile_forward_accuracy_ladder.json

`Config.compile_forward` changes the rounding of 03's bf16 features and 04's bf16 log-probabilities: inductor's
fused kernels keep their intermediates in fp32 where eager rounds each op's output to bf16. Which of the two is
nearer the fp32 numbers? On the first `--texts` texts of the profile's train split (never val or test), per size: the
backbone's features (`irl.features`) and the start policy's log-probabilities of the human continuations
(`implicit.continuation_logprobs`) in fp32, bf16 eager and bf16 compiled (`models.compile_blocks`, the compiled
normaliser); for each bf16 variant the mean and largest absolute difference from fp32, and for the features the
mean relative one; and each variant's seconds, its first call (the compiled one compiles there) and its second
(one process, so the ratio of the second calls is the compiled blocks' speed-up). Writes data/results/experiments/compile_forward_accuracy.json (cpu) or
compile_forward_accuracy_<profile>.json.
"""
import argparse
import time

import numpy as np
import torch

from irlkit import config, data, implicit, irl, models, stages, store

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--texts", type=int, default=128)
parser.add_argument("--profile", default="cpu", choices=config.PROFILES)
args = parser.parse_args()
cfg = config.load(args.profile, progress=False)
torch.set_num_threads(cfg.threads)
ctx = stages.Context(cfg)
train = data.split_of(ctx.prompts, "train")
texts, prompts = list(train.original_output[:args.texts]), list(train.prompt[:args.texts])
result = {"texts": len(texts), "split": "train", "sizes": {}}
for size in (s.name for s in cfg.sizes):
    folder = ctx.start(size)
    out = {}
    for variant in ("fp32", "bf16 eager", "bf16 compiled"):
        backbone, (policy, tok) = models.load_backbone(folder), models.load_policy(folder)
        if variant != "fp32":
            backbone.to(torch.bfloat16), policy.to(torch.bfloat16)
        compiled = variant == "bf16 compiled"
        if compiled:
            models.compile_blocks(backbone), models.compile_blocks(policy)
        seconds = {}
        for call in ("first", "second"):  # the compiled variant's first call compiles; the second is its pace
            t0 = time.perf_counter()
            features = irl.features(backbone, tok, texts, max_length=cfg.irl.max_length)
            t1 = time.perf_counter()
            tok.padding_side = "right"
            logp, _ = implicit.continuation_logprobs(policy, tok, prompts, texts, compiled=compiled)
            seconds[call] = {"features": t1 - t0, "logp": time.perf_counter() - t1}
        out[variant] = {"features": features, "logp": logp, "seconds": seconds}
    reference = out["fp32"]
    rows = {}
    for variant in ("bf16 eager", "bf16 compiled"):
        f, lp = out[variant]["features"] - reference["features"], out[variant]["logp"] - reference["logp"]
        rows[variant] = {"features_mean_abs": float(np.abs(f).mean()), "features_max_abs": float(np.abs(f).max()),
                         "features_mean_relative": float(np.abs(f).mean() / np.abs(reference["features"]).mean()),
                         "logp_mean_abs": float(np.abs(lp).mean()), "logp_max_abs": float(np.abs(lp).max())}
        print(f"{size:14s} {variant:13s} vs fp32: features mean |d| {rows[variant]['features_mean_abs']:.4f} "
              f"(max {rows[variant]['features_max_abs']:.3f}), log-probs mean |d| {rows[variant]['logp_mean_abs']:.4f} "
              f"(max {rows[variant]['logp_max_abs']:.3f})", flush=True)
    rows["logp_fp32_mean_abs"] = float(np.abs(reference["logp"]).mean())
    rows["seconds"] = {variant: out[variant]["seconds"] for variant in out}
    rows["compiled_speed_up_second_call"] = {
        stage: out["bf16 eager"]["seconds"]["second"][stage] / out["bf16 compiled"]["seconds"]["second"][stage]
        for stage in ("features", "logp")}
    print(f"{size:14s} compiled over eager bf16, second call: {rows['compiled_speed_up_second_call']}", flush=True)
    result["sizes"][size] = rows
name = "compile_forward_accuracy" + ("" if args.profile == "cpu" else f"_{args.profile}")
print(store.write_experiment(name, result, cfg))
