"""fp32 against bf16 in one process: greedy generation, and one RLOO step of the cpu recipe.

    .venv/bin/python benchmarks/bench_precision.py gemma3-270m --prompts 64 --steps 4 --repeats 2

Generation: the first `--prompts` prompts, the cpu profile's decoding, the start policy in fp32 and a
bf16 copy (`sampling.precision`); prints seconds (median over repeats), the ratio, and how many greedy
texts are identical. RLOO: `--steps` steps with the true judge as reward at `rlhf.precision` fp32 and
bf16, alternating; the median seconds per step (the first step of each run is dropped: warm-up).
Set GLIBC_TUNABLES as run_all.sh does to time what the pipeline runs.
"""
import argparse
import statistics
import time

import torch

from irlkit import config, models, stages, sampling
from rloo_timing import median_step_seconds

parser = argparse.ArgumentParser()
parser.add_argument("size")
parser.add_argument("--prompts", type=int, default=64)
parser.add_argument("--steps", type=int, default=4)
parser.add_argument("--repeats", type=int, default=2)
args = parser.parse_args()
if args.steps < 2:
    parser.error("--steps must be at least 2: the first step is warm-up")

cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
torch.set_num_threads(cfg.threads)
start = ctx.start(args.size)


def report(what: str, seconds: dict[str, list[float]]) -> None:
    fp32, bf16 = (statistics.median(seconds[p]) for p in config.PRECISIONS)
    print(f"{args.size} {what}: median fp32 {fp32:.2f} s, bf16 {bf16:.2f} s, ratio {fp32 / bf16:.2f}× "
          f"(runs: {seconds})", flush=True)


# -- greedy generation ---------------------------------------------------------------
prompts = list(ctx.prompts.prompt[: args.prompts])
policy, tok = models.load_policy(start)
policies = {"fp32": policy, "bf16": models.load_policy(start)[0].to(torch.bfloat16)}
seconds, texts = {p: [] for p in config.PRECISIONS}, {}
for _ in range(args.repeats):
    for name, model in policies.items():
        t0 = time.perf_counter()
        texts[name] = sampling.generate(model, tok, prompts, max_new_tokens=cfg.sampling.max_new_tokens,
                                        batch_size=cfg.sampling.batch_size, show_progress=False)
        seconds[name].append(round(time.perf_counter() - t0, 2))
report(f"greedy generation of {len(prompts)} prompts × {cfg.sampling.max_new_tokens} tokens", seconds)
same = sum(a == b for a, b in zip(texts["fp32"], texts["bf16"]))
print(f"identical greedy texts: {same} of {len(prompts)}", flush=True)
del policies, policy

# -- one RLOO step --------------------------------------------------------------------
seconds = {p: [] for p in config.PRECISIONS}
for _ in range(args.repeats):
    for name in config.PRECISIONS:
        seconds[name].append(round(median_step_seconds(args.size, args.steps, precision=name), 2))
report(f"RLOO step ({args.steps} steps, median after the first)", seconds)
