"""Fusing the transformer blocks' elementwise work in the bf16 features stage: eager vs `torch.compile`, and what
compiling costs on a fresh machine and on one whose cache holds it.

    .venv/bin/python benchmarks/bench_features_compile.py [--repeats 3] [--variants blocks whole] [--name bench_features_compile]

`bench_stage_flops.py` put Gemma's eager bf16 features at 20–28% of the AMX peak, with about 40% of the time in
the elementwise work of transformers' Gemma-3 blocks (`mul`, GELU, RMSNorm's `pow`, copies). Two ways to fuse it:

- `whole`: `torch.compile(backbone, dynamic=True)`, the whole model as one graph;
- `blocks`: `models.compile_blocks(backbone)`, each transformer block compiled in place (what the cpu profile
  runs, `Config.compile_forward`): the blocks share their code, so one compilation serves them all.

Each (size, variant) runs in two child processes one after the other, sharing one fresh inductor cache folder
(`TORCHINDUCTOR_CACHE_DIR`): `cold` is a fresh machine, `warm` a later process whose on-disk cache holds the
kernels. In each, `irl.features` on the same 128 texts of the cpu train split as `bench_stage_flops.py`, bf16:
eager `--repeats` times, then the compiled backbone's first call (compilation: `first_call_seconds`) and
`--repeats` more; medians, and the largest difference of the features. Writes data/results/bench/<name>.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

VARIANTS = ("blocks", "whole")


def child(size: str, variant: str, repeats: int) -> dict:
    """One process's measurement (run with --child): eager, then compiled, on the same texts."""
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from irlkit import config, data, irl, models, stages

    cfg = config.load("cpu", progress=False)
    torch.set_num_threads(cfg.threads)
    ctx = stages.Context(cfg)
    texts = list(data.split_of(ctx.prompts, "train").original_output[:128])
    folder = ctx.start(size)
    tok = models.load_tokenizer(folder)
    backbone = models.load_backbone(folder).to(torch.bfloat16)
    run = lambda model: irl.features(model, tok, texts, max_length=cfg.irl.max_length)  # noqa: E731
    with FlopCounterMode(display=False) as counter:
        eager_features = run(backbone)
    seconds = {"eager": [], "compiled": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(backbone)
        seconds["eager"].append(time.perf_counter() - t0)
    compiled = models.compile_blocks(backbone) if variant == "blocks" else torch.compile(backbone, dynamic=True)
    t0 = time.perf_counter()
    compiled_features = run(compiled)
    first_call = time.perf_counter() - t0
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(compiled)
        seconds["compiled"].append(time.perf_counter() - t0)
    median = {name: statistics.median(s) for name, s in seconds.items()}
    gflop = counter.get_total_flops() / 1e9
    return {"gflop": gflop, "first_call_seconds": first_call, "seconds": seconds, "median_seconds": median,
            "gflop_per_second": {n: gflop / m for n, m in median.items()}, "speedup": median["eager"] / median["compiled"],
            "max_abs_difference": float(np.abs(eager_features - compiled_features).max()),
            "feature_scale": float(np.abs(eager_features).max())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--name", default="bench_features_compile")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.repeats)))
        return
    from irlkit import config, store

    cfg = config.load("cpu", progress=False)
    rows = []
    for size in (s.name for s in cfg.sizes):
        for variant in args.variants:
            with tempfile.TemporaryDirectory() as cache:
                for cache_state in ("cold", "warm"):
                    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
                    out = subprocess.run([sys.executable, __file__, "--child", size, variant, "--repeats", str(args.repeats)],
                                         env=env, capture_output=True, text=True, check=True).stdout
                    rows.append({"size": size, "variant": variant, "cache": cache_state,
                                 **json.loads(out.strip().splitlines()[-1])})
                    r = rows[-1]
                    print(f"{size:14s} {variant:6s} {cache_state}: eager {r['median_seconds']['eager']:.2f} s, compiled "
                          f"{r['median_seconds']['compiled']:.2f} s ({r['speedup']:.2f}x), first call "
                          f"{r['first_call_seconds']:.1f} s, max |diff| {r['max_abs_difference']:.2f} of features up to "
                          f"{r['feature_scale']:.0f}", flush=True)
    print(store.write_benchmark(args.name, {"texts": 128, "repeats": args.repeats, "rows": rows}, cfg))


if __name__ == "__main__":
    main()
