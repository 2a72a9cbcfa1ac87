"""The one way the benchmarks time RLOO: train a few steps of the cpu recipe, return the median step.

    from rloo_timing import median_step_seconds   # scripts in benchmarks/ import it by name
    median_step_seconds("gemma3-270m", steps=4, one_pass=False)
    median_step_seconds("qwen2.5-coder-1.5b", steps=3, profile="ladder")   # any profile's recipe (LoRA here)

Keyword arguments replace fields of the size's `rlhf` section. The true judge is the reward; the
first step is dropped (it pays for warm-up); TRL's `training_step` is timed, the optimiser step is not.
"""
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import trl.trainer.rloo_trainer as rloo

from irlkit.rewards import JudgeReward
from irlkit import config, data, stages, rlhf

_seconds: list[float] = []
_training_step = rloo.RLOOTrainer.training_step


def _timed_step(*a, **k):  # the one-pass and bf16 trainers subclass RLOOTrainer, so this times them all
    t0 = time.perf_counter()
    out = _training_step(*a, **k)
    _seconds.append(time.perf_counter() - t0)
    return out


rloo.RLOOTrainer.training_step = _timed_step
_contexts: dict = {}


def median_step_seconds(size: str, steps: int, profile: str = "cpu", **rlhf_fields) -> float:
    if steps < 2:
        raise ValueError("steps must be at least 2: the first step is warm-up")
    ctx = _contexts.setdefault(profile, stages.Context(config.load(profile, progress=False)))
    rc = dataclasses.replace(ctx.cfg.rlhf_for(size), steps=steps, **rlhf_fields)
    _seconds.clear()
    with tempfile.TemporaryDirectory() as tmp:
        rlhf.train(ctx.start(size), data.split_of(ctx.prompts, "train"), rlhf.reward_function(JudgeReward(ctx.judge())),
                   rc, Path(tmp), max_new_tokens=ctx.cfg.sampling.max_new_tokens, seed=ctx.cfg.seed)
    return statistics.median(_seconds[1:])
