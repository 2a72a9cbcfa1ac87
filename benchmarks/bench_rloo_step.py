"""Where an RLOO step's time goes, and what each change to it buys, side by side in one process.

    .venv/bin/python benchmarks/bench_rloo_step.py --steps 5 --repeats 2          # every size of the cpu profile
    .venv/bin/python benchmarks/bench_rloo_step.py --sizes gemma3-270m \\
        --variants today freeze_embeddings="freeze_embeddings=True" --name bench_rloo_step_gemma

Each variant is the cpu recipe with some `rlhf` fields replaced (`name=field=value,field=value`; `today`
replaces nothing). Per size, the variants train `--steps` steps each (the true judge as reward), one after
the other, `--repeats` times over; the first step of each run is dropped (warm-up). A step is split into
phases by timing TRL's and accelerate's methods:

- generation: the completions sampled (`_generate_single_turn`; with bf16, the sampler's weight refresh too)
- reward: the judge scoring them (`_calculate_rewards`)
- reference forward: the rest of TRL's scoring (`_generate_and_score_completions` minus the two above)
- policy forward: the training forward and the loss (`_compute_loss`)
- backward: `Accelerator.backward`
- gradient norm: the norm and the clipping (`_clip_grad_norm`, `_get_grad_norm`)
- optimiser: Adam's update (`AcceleratedOptimizer.step`)
- other: the rest of the step (zeroing the gradients, the scheduler, logging, Python)

Per variant: the median of each phase over all kept steps, seconds per completion, the ratio of medians
to the first variant per completion, the FLOPs of a step (torch's `FlopCounterMode` over a separate 2-step run,
eager: it does not see into compiled kernels, whose math is the same) and
their rate against the machine's bf16 peak on the model's feed-forward shape, measured in this process
(`bench_peak.gflops`). With `--profile`, `torch.profiler`'s top operators of one step of the first and
the last variant. Writes data/results/bench/<name>.json.
"""
import argparse
import collections
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
from bench_peak import FEED_FORWARD, gflops  # noqa: E402

import accelerate.optimizer  # noqa: E402
import transformers  # noqa: E402
import trl.trainer.rloo_trainer as rloo  # noqa: E402

from irlkit import config, data, provenance, rlhf, runner, stages, store  # noqa: E402
from irlkit.rewards import JudgeReward  # noqa: E402

PHASES = ("generation", "reward", "reference forward", "policy forward", "backward", "gradient norm", "optimiser",
          "other")

_seconds: dict[str, float] = collections.defaultdict(float)  # this step's phases so far
_steps: list[dict] = []  # one dict of phase seconds per finished step


def _timed(owner, name: str, phase: str):
    fn = getattr(owner, name)

    def wrapper(*a, **k):
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            _seconds[phase] += time.perf_counter() - t0

    setattr(owner, name, wrapper)


_timed(rloo.RLOOTrainer, "_generate_single_turn", "generation")
_timed(rlhf._Bf16Sampling, "_generate_single_turn", "generation (with the refresh)")
_timed(rloo.RLOOTrainer, "_calculate_rewards", "reward")
_timed(rloo.RLOOTrainer, "_generate_and_score_completions", "scoring")
_timed(rloo.RLOOTrainer, "_compute_loss", "policy forward")
_timed(accelerate.Accelerator, "backward", "backward")
_timed(transformers.Trainer, "_clip_grad_norm", "gradient norm")
_timed(transformers.Trainer, "_get_grad_norm", "gradient norm")
_timed(accelerate.optimizer.AcceleratedOptimizer, "step", "optimiser")


class StepClock(transformers.TrainerCallback):
    """Each step's phases, from the start of one step to the start of the next."""

    def on_step_begin(self, args, state, control, **kwargs):
        _seconds.clear()
        self.t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        s = dict(_seconds)
        s["whole step"] = time.perf_counter() - self.t0
        s["generation"] = s.pop("generation (with the refresh)", s.get("generation", 0.0))
        s["reference forward"] = s.pop("scoring", 0.0) - s["generation"] - s.get("reward", 0.0)
        s["other"] = s["whole step"] - sum(s.get(p, 0.0) for p in PHASES if p != "other")
        _steps.append(s)


def train(ctx, size: str, rc, steps: int):
    """`steps` RLOO steps of `rc` from the size's start; returns the steps' phase seconds."""
    _steps.clear()
    original = transformers.Trainer.__init__

    def with_clock(self, *a, **k):  # the step clock joins the trainer's callbacks
        k["callbacks"] = [*(k.get("callbacks") or []), StepClock()]
        original(self, *a, **k)

    transformers.Trainer.__init__ = with_clock
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rlhf.train(ctx.start(size), data.split_of(ctx.prompts, "train"),
                       rlhf.reward_function(JudgeReward(ctx.judge())), dataclasses.replace(rc, steps=steps),
                       Path(tmp), max_new_tokens=ctx.cfg.sampling.max_new_tokens, seed=ctx.cfg.seed)
    finally:
        transformers.Trainer.__init__ = original
    return list(_steps)


def parse_variant(text: str) -> tuple[str, dict]:
    """`name=field=value,field=value` → (name, {field: value}), each value read as `--set` reads it."""
    name, _, fields = text.partition("=")
    return name, dict(runner.setting(item) for item in filter(None, fields.split(",")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", help="default: the profile's sizes")
    parser.add_argument("--profile", dest="profile_name", default="cpu")
    parser.add_argument("--variants", nargs="+", default=["today"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--ops", action="store_true", help="torch.profiler's top operators of one step")
    parser.add_argument("--name", default="bench_rloo_step")
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be at least 2: the first step is warm-up")
    cfg = config.load(args.profile_name, progress=False)
    torch.set_num_threads(cfg.threads)
    ctx = stages.Context(cfg)
    variants = dict(parse_variant(v) for v in args.variants)
    rows, profiles = [], {}
    for size in args.sizes or [s.name for s in cfg.sizes]:
        peak = gflops(FEED_FORWARD[size], "bf16", cfg.threads, 20)
        print(f"{size}: bf16 peak on the feed-forward shape {peak:.0f} GFLOP/s", flush=True)
        recipes = {name: dataclasses.replace(cfg.rlhf_for(size), **o) for name, o in variants.items()}
        kept = {name: [] for name in variants}
        for repeat in range(args.repeats):
            for name, rc in recipes.items():
                kept[name] += train(ctx, size, rc, args.steps)[1:]
                print(f"  repeat {repeat + 1} {name}: {statistics.median(s['whole step'] for s in kept[name]):.2f} s "
                      "per step so far", flush=True)
        for name, rc in recipes.items():
            with FlopCounterMode(display=False) as counter:  # eager: the counter does not see into compiled kernels,
                train(ctx, size, dataclasses.replace(rc, compiled_head=False), 2)  # and the math is the same
            gflop = counter.get_total_flops() / 2 / 1e9
            completions = rc.prompts_per_step * rc.num_generations
            phases = {p: statistics.median(s.get(p, 0.0) for s in kept[name]) for p in (*PHASES, "whole step")}
            step = phases["whole step"]
            rows.append({"size": size, "variant": name, "overrides": variants[name], "completions_per_step": completions,
                         "steps_kept": len(kept[name]), "seconds_per_step": step,
                         "seconds_per_completion": step / completions, "phases": phases,
                         "gflop_per_step": gflop, "gflop_per_s": gflop / step, "peak_gflop_per_s": peak,
                         "share_of_peak": gflop / step / peak})
        base = next(r for r in rows if r["size"] == size and r["variant"] == next(iter(variants)))
        for r in (r for r in rows if r["size"] == size):
            r["speedup_per_completion"] = base["seconds_per_completion"] / r["seconds_per_completion"]
            print(f"  {r['variant']:24s} {r['seconds_per_step']:6.2f} s/step  {r['seconds_per_completion']:6.3f} s/completion "
                  f"({r['speedup_per_completion']:.2f}×)  {r['gflop_per_s']:6.0f} GFLOP/s = {r['share_of_peak']:5.1%} of peak  "
                  + " ".join(f"{p} {r['phases'][p]:.2f}" for p in PHASES), flush=True)
        if args.ops:
            for name in dict.fromkeys([next(iter(variants)), list(variants)[-1]]):
                original = rloo.RLOOTrainer.training_step
                box = {}

                def profiled(self, *a, **k):
                    if self.state.global_step != 1:
                        return original(self, *a, **k)
                    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
                        out = original(self, *a, **k)
                    box["table"] = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
                    box["shapes"] = prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=30, max_shapes_column_width=90)
                    return out

                rloo.RLOOTrainer.training_step = profiled
                try:
                    train(ctx, size, recipes[name], 2)
                finally:
                    rloo.RLOOTrainer.training_step = original
                profiles[f"{size} {name}"] = box.get("table", "")
                print(f"\nprofile of {size} {name} (the training step, optimiser outside):\n{box.get('table')}\n{box.get('shapes')}", flush=True)
    out = {"machine": {"cpu": provenance.cpu_model(), "threads": cfg.threads}, "profile": args.profile_name,
           "steps": args.steps, "repeats": args.repeats, "rows": rows, "profiles": profiles}
    print(store.write_benchmark(args.name, out, cfg))


if __name__ == "__main__":
    main()
