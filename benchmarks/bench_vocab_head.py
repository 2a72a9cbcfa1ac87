"""The vocabulary head alone: `implicit.token_logprobs` over the whole vocabulary vs online over blocks.

    .venv/bin/python benchmarks/bench_vocab_head.py [--rows 1800] [--repeats 3] [--name bench_vocab_head]

`bench_token_logprobs.py` times 04's whole stage (the transformer's blocks included); this times only what the
normaliser changed: `rows` random hidden states (the scale of the final hidden states, standard normal) and
random targets through each cpu model's head and softmax normaliser, `vocab_block=0` (the whole vocabulary, as
before ae09fd0) against main's `implicit.VOCAB_BLOCK`, interleaved, in fp32 and bf16; median of `--repeats`
after one untimed round. GFLOP/s counts the head's matmul (2 · rows · vocabulary · hidden). Writes
data/results/bench/<name>.json.
"""
import argparse
import statistics
import time

import torch

from irlkit import config, implicit, models, stages, store

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=int, default=1800)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--name", default="bench_vocab_head")
args = parser.parse_args()
cfg = config.load("cpu", progress=False)
torch.set_num_threads(cfg.threads)
ctx = stages.Context(cfg)
variants = {"whole vocabulary": 0, f"online, blocks of {implicit.VOCAB_BLOCK}": implicit.VOCAB_BLOCK}
rows = []
for size in (s.name for s in cfg.sizes):
    policy, _ = models.load_policy(ctx.start(size))
    vocab, width = policy.get_output_embeddings().weight.shape
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(args.rows, width, generator=generator)
    targets = torch.randint(0, vocab, (args.rows,), generator=generator)
    gflop = 2 * args.rows * vocab * width / 1e9
    for precision, dtype in DTYPES.items():
        policy.to(dtype)
        seconds, out = {name: [] for name in variants}, {}
        with torch.inference_mode():
            for _ in range(args.repeats + 1):  # the first round warms up and is not timed
                for name, block in variants.items():
                    t0 = time.perf_counter()
                    out[name] = implicit.token_logprobs(policy, hidden.to(dtype), targets, vocab_block=block)
                    seconds[name].append(time.perf_counter() - t0)
        median = {name: statistics.median(s[1:]) for name, s in seconds.items()}
        whole, online = variants
        rows.append({"size": size, "precision": precision, "rows": args.rows, "vocabulary": vocab, "head_gflop": gflop,
                     "seconds": {n: s[1:] for n, s in seconds.items()}, "median_seconds": median,
                     "gflop_per_second": {n: gflop / m for n, m in median.items()},
                     "speedup": median[whole] / median[online],
                     "max_abs_difference": float((out[whole] - out[online]).abs().max())})
        print(f"{size:14s} {precision}  " + "  ".join(f"{n}: {m:.3f} s ({gflop / m:.0f} GFLOP/s)" for n, m in median.items())
              + f"  speedup {rows[-1]['speedup']:.2f}x  max |diff| {rows[-1]['max_abs_difference']:.1e}", flush=True)
print(store.write_benchmark(args.name, {"rows": rows}, cfg))
