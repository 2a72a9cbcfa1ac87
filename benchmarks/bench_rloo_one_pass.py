"""TRL's RLOO step against the one-pass step (no second policy forward), in one process.

    .venv/bin/python benchmarks/bench_rloo_one_pass.py gemma3-270m --steps 4 --repeats 2

Trains `--steps` steps of the cpu recipe for the size (the true judge as reward) with each trainer,
alternating, `--repeats` times; prints the median seconds per step (the first step of each run is
dropped: it pays for warm-up) and the ratio. Set GLIBC_TUNABLES as run_all.sh does to time what the
pipeline runs."""
import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import trl.trainer.rloo_trainer as rloo

from irlkit import config, data, pipeline, rlhf

parser = argparse.ArgumentParser()
parser.add_argument("size")
parser.add_argument("--steps", type=int, default=4)
parser.add_argument("--repeats", type=int, default=2)
args = parser.parse_args()
if args.steps < 2:
    parser.error("--steps must be at least 2: the first step is warm-up")

step_seconds: list[float] = []
training_step = rloo.RLOOTrainer.training_step


def timed_step(*a, **k):  # the one-pass trainer subclasses RLOOTrainer, so this times both
    t0 = time.perf_counter()
    out = training_step(*a, **k)
    step_seconds.append(time.perf_counter() - t0)
    return out


rloo.RLOOTrainer.training_step = timed_step
cfg = config.load("cpu", progress=False)
ctx = pipeline.Context(cfg)
prompts, reward = data.split_of(ctx.prompts, "train"), rlhf.judge_reward(ctx.judge())
start = pipeline.start_folder(ctx, args.size)
per_step = {"TRL RLOOTrainer": [], "one-pass": []}
for repeat in range(args.repeats):
    for name, one_pass in (("TRL RLOOTrainer", False), ("one-pass", True)):
        rc = dataclasses.replace(cfg.rlhf_for(args.size), steps=args.steps, one_pass=one_pass)
        step_seconds.clear()
        with tempfile.TemporaryDirectory() as tmp:
            rlhf.train(start, prompts, reward, cfg, Path(tmp), rc=rc)
        per_step[name].append(statistics.median(step_seconds[1:]))
        print(f"repeat {repeat + 1} {name}: {per_step[name][-1]:.2f} s per step", flush=True)
naive, ours = (statistics.median(v) for v in per_step.values())
print(f"{args.size}, {args.steps} steps × {args.repeats} repeats, median s per step after the first: "
      f"TRL {naive:.2f}, one-pass {ours:.2f}, ratio {naive / ours:.2f}×")
