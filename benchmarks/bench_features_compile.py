"""Would fusing the transformer blocks' elementwise work lift the bf16 features stage? Eager vs `torch.compile`.

    .venv/bin/python benchmarks/bench_features_compile.py [--repeats 3] [--name bench_features_compile]

`bench_stage_flops.py` puts Gemma's bf16 features at 20–28% of the AMX peak, with about 40% of the time in the
elementwise work of transformers' Gemma-3 blocks (`mul`, GELU, RMSNorm's `pow`, copies). `torch.compile` (inductor,
C++ on CPU) fuses such work. This times `irl.features` on the same 128 texts of the cpu train split as
`bench_stage_flops.py`, the backbone eager and compiled (`dynamic=True`: the batches' lengths differ), in bf16,
interleaved after the compiled model's warm-up (whose seconds are recorded too), median of `--repeats`; and the
largest difference of the features. Nothing in irlkit uses it: a measurement for the next step. Writes
data/results/experiments/<name>.json.
"""
import argparse
import statistics
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from irlkit import config, data, irl, models, stages, store

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--name", default="bench_features_compile")
args = parser.parse_args()
cfg = config.load("cpu", progress=False)
torch.set_num_threads(cfg.threads)
ctx = stages.Context(cfg)
texts = list(data.split_of(ctx.prompts, "train").original_output[:128])
rows = []
for size in (s.name for s in cfg.sizes):
    folder = stages.policies.start_folder(ctx, size)
    tok = models.load_tokenizer(folder)
    eager = models.load_backbone(folder).to(torch.bfloat16)
    compiled = torch.compile(eager, dynamic=True)
    run = {"eager": lambda: irl.features(eager, tok, texts, max_length=cfg.irl.max_length),
           "compiled": lambda: irl.features(compiled, tok, texts, max_length=cfg.irl.max_length)}
    with FlopCounterMode(display=False) as counter:
        run["eager"]()
    gflop = counter.get_total_flops() / 1e9
    t0 = time.perf_counter()
    feats = {"compiled": run["compiled"]()}  # compiles (per new shape, until dynamic shapes take over)
    warm_up = time.perf_counter() - t0
    seconds = {name: [] for name in run}
    for _ in range(args.repeats):
        for name, fn in run.items():
            t0 = time.perf_counter()
            feats[name] = fn()
            seconds[name].append(time.perf_counter() - t0)
    median = {name: statistics.median(s) for name, s in seconds.items()}
    rows.append({"size": size, "gflop": gflop, "compile_warm_up_seconds": warm_up, "seconds": seconds,
                 "median_seconds": median, "gflop_per_second": {n: gflop / m for n, m in median.items()},
                 "speedup": median["eager"] / median["compiled"],
                 "max_abs_difference": float(np.abs(feats["eager"] - feats["compiled"]).max()),
                 "feature_scale": float(np.abs(feats["eager"]).max())})
    print(f"{size:14s} eager {median['eager']:.2f} s, compiled {median['compiled']:.2f} s ({rows[-1]['speedup']:.2f}x; "
          f"warm-up {warm_up:.0f} s), {gflop:.0f} GFLOP, max |diff| {rows[-1]['max_abs_difference']:.2e} "
          f"of features up to {rows[-1]['feature_scale']:.0f}", flush=True)
print(store.write_experiment(args.name, {"texts": len(texts), "repeats": args.repeats, "rows": rows}, cfg))
