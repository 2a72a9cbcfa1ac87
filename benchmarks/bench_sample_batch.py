"""Sampled continuations (05's endpoint, the toxicity–KL path) at several batch sizes, side by side in one process.

    .venv/bin/python benchmarks/bench_sample_batch.py --size gemma3-270m --prompts 64 --batches 32 64 128 --repeats 3

The start policy of `--size` (cpu profile) in the profile's sampling precision, `--prompts` val prompts × 4 samples,
16 new tokens at temperature 1 (`rlhf.samples`' settings), with `--threads` threads (1: as a pipeline worker, two
side by side). The batch sizes take turns within each repeat, so a machine that drifts slows each alike. Prints,
per batch size, the median samples per second, the ratio to the first batch size, and how long 05's endpoint of
one policy (1,124 prompts × 4 samples) would take at that rate. Writes data/results/bench/<name>.json.
"""
import argparse
import statistics
import time

import torch

from irlkit import config, data, models, store
from irlkit.sampling import generate, inverse_cdf_sampling


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="gemma3-270m")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="bench_sample_batch")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = config.load("cpu")
    spec = next(s for s in cfg.sizes if s.name == args.size)
    prompts = list(data.split_of(data.load_prompts(cfg), "val").prompt[: args.prompts])
    model, tok = models.load_policy(models.materialise(spec.start))
    if cfg.sampling.precision == "bf16":
        model.to(torch.bfloat16)
    repeated = [p for p in prompts for _ in range(args.samples)]
    rates = {b: [] for b in args.batches}
    for _ in range(args.repeats):
        for b in args.batches:
            t0 = time.perf_counter()
            with inverse_cdf_sampling(True):
                generate(model, tok, repeated, max_new_tokens=cfg.sampling.max_new_tokens, batch_size=b, do_sample=True,
                         temperature=1.0, seed=0, show_progress=False)
            rates[b].append(len(repeated) / (time.perf_counter() - t0))
            print(f"batch {b}: {rates[b][-1]:.1f} samples/s", flush=True)
    first = statistics.median(rates[args.batches[0]])
    out = {}
    for b, r in rates.items():
        med = statistics.median(r)
        out[str(b)] = {"samples_per_second": r, "median": med, "ratio_to_first": med / first,
                       "endpoint_minutes_per_policy": 1124 * 4 / med / 60}
        print(f"batch {b:>4}: median {med:6.1f} samples/s, {med / first:.2f}x, "
              f"endpoint of one policy (1,124 prompts x 4) {1124 * 4 / med / 60:.1f} min")
    print(store.write_benchmark(args.name, {"size": args.size, "prompts": args.prompts, "samples_per_prompt": args.samples,
                                            "threads": args.threads, "repeats": args.repeats, "batches": out}, cfg))


if __name__ == "__main__":
    main()
