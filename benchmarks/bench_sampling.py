"""Batched generation vs one `generate` call per prompt (the study's way), same model, prompts and tokens.

    .venv/bin/python benchmarks/bench_sampling.py [--prompts 64] [--tokens 20] [--repeats 3]

Prints tokens per second of each way (median over repeats) and their ratio.
"""
import argparse
import statistics
import time

import torch

from irlkit import config, data, models, sampling


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default="asset:smollm2-135m-instruct")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prompts = list(data.load_prompts(config.load("cpu")).prompt[: args.prompts])
    model, tok = models.load_policy(models.materialise(args.source))
    runs = {"one call per prompt": [], "batched": []}
    for _ in range(args.repeats):
        for name in runs:
            t0 = time.perf_counter()
            if name == "batched":
                out = sampling.generate(model, tok, prompts, max_new_tokens=args.tokens, batch_size=args.batch_size,
                                        show_progress=False)
            else:
                out = sampling.generate_one_by_one(model, tok, prompts, max_new_tokens=args.tokens)
            new_tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in out)
            runs[name].append(new_tokens / (time.perf_counter() - t0))
    med = {k: statistics.median(v) for k, v in runs.items()}
    for k, v in runs.items():
        print(f"{k:>20}: median {med[k]:7.1f} tok/s   runs {[round(x, 1) for x in v]}")
    print(f"ratio batched / one-by-one: {med['batched'] / med['one call per prompt']:.2f}x "
          f"({args.prompts} prompts, {args.tokens} new tokens, {args.threads} threads)")


if __name__ == "__main__":
    main()
