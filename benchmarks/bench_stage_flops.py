"""Each heavy stage of a cpu replicate against the machine's own peak: FLOPs done, FLOP/s achieved, share of peak.

    .venv/bin/python benchmarks/bench_stage_flops.py [--repeats 3] [--profile-top 8] [--name bench_stage_flops]
        # -> data/results/bench/<name>.json, the tables of benchmarks/README.md (one per kind of machine)

Per cpu size and precision, on the stage's own inputs (the cpu prompts' human continuations, the
profile's batch sizes and max_length), one process with the profile's 2 torch threads:

- features: `irl.features`, 128 texts (the probes' input);
- log-probs: `implicit.continuation_logprobs`, 128 prompt + continuation pairs (04's implicit reward);
- (perplexity, `rlhf.perplexity`, runs the same `continuation_logprobs` with an empty prompt: the log-probs row);
- generation: `sampling.generate`, 32 prompts, the profile's horizon, greedy (02, 05's evaluation);
- full-mode step: `irl.train_top_blocks`, one epoch of 16 pairs (03's full mode);
- RLOO step: `benchmarks/rloo_timing.py`'s median step of the cpu recipe (01, 05), in the profile's precision.

The batched forward stages run twice in bf16: eager, and compiled as the cpu profile runs them
(`Config.compile_forward`: `models.compile_blocks` and the compiled normaliser; the first call's seconds, the
compilation, are recorded apart as `warm_up_seconds`).

FLOPs are counted, not modelled: torch's `FlopCounterMode` over one pass (matmuls and attention, forward and
backward, the vocabulary head included); time is the median of `--repeats` passes without the counter.
Peak is `bench_peak.gflops` on the model's feed-forward shape in the same precision, measured in this
process right before. For the stage furthest from its peak, and for each batched forward stage below `GOAL` of its
peak, `torch.profiler`'s top operators by self CPU time.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
from bench_peak import FEED_FORWARD, gflops  # noqa: E402

from irlkit import config, data, implicit, irl, models, sampling, stages, store  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
FORWARD = ("features", "log-probs")
"""The batched forward stages (perplexity runs the log-probs code), whose goal is `GOAL` of their precision's peak."""
GOAL = 0.25


def counted(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median seconds of `repeats` calls, seconds of the warm-up call before them: compilation, if any)."""
    t0 = time.perf_counter()
    fn()
    warm_up = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), warm_up


def stage_calls(ctx, size: str, precision: str, compiled: bool = False) -> dict:
    """{stage: call} on the stage's own inputs; `compiled`: the batched forward stages only, as
    `Config.compile_forward` runs them (blocks and normaliser compiled)."""
    cfg = ctx.cfg
    folder = ctx.start(size)
    policy, tok = models.load_policy(folder)
    backbone = models.load_backbone(folder)
    policy, backbone = policy.to(DTYPES[precision]), backbone.to(DTYPES[precision])
    if compiled:
        models.compile_blocks(policy), models.compile_blocks(backbone)
    train = data.split_of(ctx.prompts, "train")
    texts, prompts = list(train.original_output[:128]), list(train.prompt[:128])
    ic = cfg.irl

    def logprobs():
        tok.padding_side = "right"
        implicit.continuation_logprobs(policy, tok, prompts, texts, compiled=compiled)
        tok.padding_side = "left"

    cached = irl.block_inputs(backbone, tok, texts[:32], blocks=max(ic.full_blocks, 1), max_length=ic.max_length)
    calls = {
        "features": lambda: irl.features(backbone, tok, texts, max_length=ic.max_length),
        "log-probs": logprobs,
        "generation": lambda: sampling.generate(policy, tok, prompts[:32], max_new_tokens=cfg.sampling.max_new_tokens,
                                                show_progress=False),
        "full-mode step": lambda: irl.train_top_blocks(
            backbone, cached[:16], cached[16:32],
            blocks=max(ic.full_blocks, 1), loss="max_margin", seed=0, epochs=1, lr=ic.full_lr, head_lr=ic.full_head_lr,
            batch_size=ic.batch_size),
    }
    if precision == "bf16":
        del calls["full-mode step"]  # full mode trains in fp32 only
    if compiled:
        calls = {stage: calls[stage] for stage in FORWARD}
    return calls


def rloo_call(size: str):
    from rloo_timing import median_step_seconds

    return lambda steps=2: median_step_seconds(size, steps=steps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile-top", type=int, default=8)
    parser.add_argument("--name", default="bench_stage_flops", help="the result's name under data/results/experiments/")
    args = parser.parse_args()
    cfg = config.load("cpu", progress=False)
    torch.set_num_threads(cfg.threads)
    ctx = stages.Context(cfg)
    rows = []
    for size in (s.name for s in cfg.sizes):
        peak = {p: gflops(FEED_FORWARD[size], p, cfg.threads, 20) for p in DTYPES}
        eager_flops = {}
        for precision, compiled in (("fp32", False), ("bf16", False), ("bf16", True)):
            for stage, fn in stage_calls(ctx, size, precision, compiled).items():
                # a compiled stage does the eager stage's matmuls (FlopCounterMode does not see inside inductor's kernels)
                flops = eager_flops[stage, precision] if compiled else counted(fn)
                eager_flops[stage, precision] = flops
                seconds, warm_up = timed(fn, args.repeats)
                rows.append({"size": size, "stage": stage, "precision": precision, "compiled": compiled,
                             "gflop": flops / 1e9, "seconds": seconds, "warm_up_seconds": warm_up,
                             "gflop_per_s": flops / seconds / 1e9, "peak_gflop_per_s": peak[precision],
                             "share_of_peak": flops / seconds / 1e9 / peak[precision], "_fn": fn})
                print(f"{size:14s} {stage:15s} {precision}{' compiled' if compiled else '         '}  "
                      f"{flops / 1e9:9.1f} GFLOP  {seconds:7.2f} s  {rows[-1]['gflop_per_s']:7.1f} GFLOP/s  "
                      f"{rows[-1]['share_of_peak']:6.1%} of {peak[precision]:.0f}  (first call {warm_up:.1f} s)", flush=True)
        rloo = rloo_call(size)
        rloo_precision = cfg.rlhf_for(size).precision
        flops = counted(lambda: rloo(2)) / 2
        seconds = rloo(args.repeats + 1)
        rows.append({"size": size, "stage": "RLOO step", "precision": rloo_precision, "compiled": False, "gflop": flops / 1e9,
                     "seconds": seconds, "gflop_per_s": flops / seconds / 1e9,
                     "peak_gflop_per_s": peak[rloo_precision], "share_of_peak": flops / seconds / 1e9 / peak[rloo_precision]})
        print(f"{size:14s} RLOO step       {rloo_precision}  {flops / 1e9:9.1f} GFLOP  {seconds:7.2f} s  "
              f"{rows[-1]['gflop_per_s']:7.1f} GFLOP/s  {rows[-1]['share_of_peak']:6.1%}", flush=True)
    worst = min((r for r in rows if "_fn" in r), key=lambda r: r["share_of_peak"])
    profiled = [r for r in rows if "_fn" in r and (r is worst or r["share_of_peak"] < GOAL and r["stage"] in FORWARD)]
    profiles = {}
    for r in profiled:  # where the time goes, for the stage furthest from its peak and each forward stage below the goal
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            r["_fn"]()
        label = f"{r['size']} {r['stage']} {r['precision']}{' compiled' if r['compiled'] else ''}"
        profiles[label] = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile_top)
        print(f"\nprofile of {label} ({r['share_of_peak']:.0%} of its peak):\n{profiles[label]}")
    out = {"machine": {"cpu": __import__("irlkit.replicates").replicates.cpu_model(), "threads": cfg.threads},
           "rows": [{k: v for k, v in r.items() if k != "_fn"} for r in rows],
           "furthest_from_peak": {k: worst[k] for k in ("size", "stage", "precision")}, "profiles": profiles}
    print(store.write_benchmark(args.name, out, cfg))


if __name__ == "__main__":
    main()
