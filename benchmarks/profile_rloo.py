"""Where one RLOO step's time goes: wall time of TRL's phases, timed by wrapping them.

    .venv/bin/python benchmarks/profile_rloo.py gemma3-270m --steps 4 [--precision fp32] [--ops]

Trains `--steps` steps of the cpu profile's recipe for the size (the true judge as reward) into a
temporary folder and prints the median seconds per step of each phase (the first step is dropped:
it pays for warm-up). `--ops`: also the torch operators that took the second step's time
(`torch.profiler`, by self CPU time; the optimiser step is outside it)."""
import argparse
import collections
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import trl.trainer.rloo_trainer as rloo

from irlkit.rewards import JudgeReward
from irlkit import config, data, stages, rlhf

parser = argparse.ArgumentParser()
parser.add_argument("size")
parser.add_argument("--steps", type=int, default=4)
parser.add_argument("--precision", choices=config.PRECISIONS, help="rlhf.precision (default: the profile's)")
parser.add_argument("--ops", action="store_true", help="print the operators of the second step")
args = parser.parse_args()

seconds = collections.defaultdict(list)


def timed(name, fn):
    def wrapper(*a, **k):
        t0 = time.perf_counter()
        out = fn(*a, **k)
        seconds[name].append(time.perf_counter() - t0)
        return out
    return wrapper


T = rloo.RLOOTrainer
T._generate = timed("generate (sampling the completions)", T._generate)
T._get_per_token_logps_and_entropies = timed("log-probs forward (old policy, reference, training)", T._get_per_token_logps_and_entropies)
T._calculate_rewards = timed("reward (judge)", T._calculate_rewards)
T._compute_loss = timed("loss forward (inside the training step)", T._compute_loss)
T.training_step = timed("whole step", T.training_step)
if args.ops:
    from torch.profiler import ProfilerActivity, profile

    def profiled(step):
        def wrapper(*a, **k):
            if len(seconds["whole step"]) != 1:  # profile the second step only
                return step(*a, **k)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                out = step(*a, **k)
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15), flush=True)
            return out
        return wrapper

    T.training_step = profiled(T.training_step)

cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
rc = cfg.rlhf_for(args.size)
rc = dataclasses.replace(rc, steps=args.steps, precision=args.precision or rc.precision)
with tempfile.TemporaryDirectory() as tmp:
    rlhf.train(ctx.start(args.size), data.split_of(ctx.prompts, "train"), rlhf.reward_function(JudgeReward(ctx.judge())),
               rc, Path(tmp), max_new_tokens=cfg.sampling.max_new_tokens, seed=cfg.seed)
steps = len(seconds["whole step"])
print(f"{args.size}, {rc.precision}: {steps} steps, median seconds per step after the first")
for name, values in seconds.items():
    per_step = [chunk.sum() for chunk in np.array_split(np.array(values), steps)]
    print(f"  {name:55s} {statistics.median(per_step[1:]):7.2f}  ({len(values) // steps} call(s) per step)")
