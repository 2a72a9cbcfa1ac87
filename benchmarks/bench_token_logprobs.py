"""04's log-probabilities: the softmax normaliser over the whole vocabulary (before) vs 16-row slices vs online blocks.

    .venv/bin/python benchmarks/bench_token_logprobs.py --repeats 3 [--name bench_token_logprobs]

Before code 3a52794d's successor, `implicit.token_logprobs` projected 256 hidden states at a time through the
vocabulary head, cast the logits to fp32 and took `logsumexp` over them: for Gemma's 262,144-token head in bf16 a
268 MB fp32 tensor per chunk, and `logsumexp` made a second one (`vocab_block=0` still does this). The candidates:
the fp32 cast and `logsumexp` taken 16 rows at a time (each row's reduction unchanged, so the numbers should be
bit-identical), and main's online normaliser, which takes the head `vocab_block` columns at a time and combines
each block's `logsumexp` by `logaddexp`, so no tensor of a whole vocabulary's logits is made (rounding differs).
The benchmark checks whether every pair's summed log-probability is bit-identical to the whole-vocabulary form's
(and the largest difference), then times all side by side, interleaved, on 128 prompt + continuation pairs of the
cpu profile's train split (as `bench_stage_flops.py`), per size and precision, median of `--repeats`.
Writes data/results/bench/<name>.json.
"""
import argparse
import statistics
import time

import numpy as np
import torch

from irlkit import config, data, implicit, models, stages, store

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def sliced_token_logprobs(model, hidden: torch.Tensor, targets: torch.Tensor, chunk: int = 256,
                          rows: int = 16, vocab_block: int = 0) -> torch.Tensor:
    """`implicit.token_logprobs(vocab_block=0)` with the fp32 cast and the normaliser taken `rows` rows at a time."""
    head, cap = model.get_output_embeddings(), getattr(model.config, "final_logit_softcapping", None)
    out = []
    for i in range(0, len(hidden), chunk):
        logits = head(hidden[i:i + chunk])
        for j in range(0, len(logits), rows):
            part = logits[j:j + rows].float()
            if cap:
                part = torch.tanh(part / cap) * cap
            out.append(part.gather(-1, targets[i + j:i + j + rows, None])[:, 0] - torch.logsumexp(part, dim=-1))
    return torch.cat(out) if out else hidden.new_zeros(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default="bench_token_logprobs")
    args = parser.parse_args()
    cfg = config.load("cpu", progress=False)
    torch.set_num_threads(cfg.threads)
    ctx = stages.Context(cfg)
    train = data.split_of(ctx.prompts, "train")
    texts, prompts = list(train.original_output[:128]), list(train.prompt[:128])
    main_token_logprobs = implicit.token_logprobs
    variants = {"whole vocabulary": (main_token_logprobs, 0), "16-row slices": (sliced_token_logprobs, 0),
                **{f"online, blocks of {b}": (main_token_logprobs, b) for b in (4096, 8192, 16384)}}
    reference = "whole vocabulary"
    rows = []
    for size in (s.name for s in cfg.sizes):
        policy, tok = models.load_policy(ctx.start(size))
        tok.padding_side = "right"  # as 04 and perplexity call it
        for precision in DTYPES:
            policy.to(DTYPES[precision])
            seconds, sums = {name: [] for name in variants}, {}
            for _ in range(args.repeats + 1):  # the first round warms up and is not timed
                for name, (fn, vocab_block) in variants.items():
                    implicit.token_logprobs = fn
                    t0 = time.perf_counter()
                    sums[name], lengths = implicit.continuation_logprobs(policy, tok, prompts, texts,
                                                                         vocab_block=vocab_block)
                    seconds[name].append(time.perf_counter() - t0)
            implicit.token_logprobs = main_token_logprobs
            median = {name: statistics.median(s[1:]) for name, s in seconds.items()}
            head = policy.get_output_embeddings().weight  # vocabulary × hidden
            rows.append({"size": size, "precision": precision, "continuation_tokens": int(lengths.sum()),
                         "head_gflop": 2 * int(lengths.sum()) * head.numel() / 1e9, "seconds": {n: [round(t, 3) for t in s[1:]] for n, s in seconds.items()},
                         "median_seconds": median, "ratio_to_whole_vocabulary": {n: median[n] / median[reference] for n in variants},
                         "bit_identical": {n: bool(np.array_equal(sums[reference], sums[n])) for n in variants},
                         "max_abs_difference": {n: float(np.abs(sums[reference] - sums[n]).max()) for n in variants}})
            print(f"{size:14s} {precision}  " + "  ".join(
                f"{n}: {median[n]:.2f} s ({rows[-1]['ratio_to_whole_vocabulary'][n]:.2f}x, max |diff| {rows[-1]['max_abs_difference'][n]:.1e})"
                for n in variants), flush=True)
    print(store.write_benchmark(args.name, {"pairs": len(texts), "repeats": args.repeats, "rows": rows}, cfg))


if __name__ == "__main__":
    main()
