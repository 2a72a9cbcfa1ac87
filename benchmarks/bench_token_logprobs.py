"""04's log-probabilities: the normaliser over 256-row chunks of logits (main) vs two cache-sized alternatives.

    .venv/bin/python benchmarks/bench_token_logprobs.py --repeats 3 [--name bench_token_logprobs]

`implicit.token_logprobs` projects 256 hidden states at a time through the vocabulary head, casts the logits to
fp32 and takes `logsumexp` over them. For Gemma's 262,144-token head in bf16 that is a 268 MB fp32 tensor per
chunk, and `logsumexp` makes a second one: the profile (`bench_stage_flops.py`) puts over 40% of the stage in
that copy and its subtract, exp and sum, all memory-bound. The candidate keeps the 256-row matmul (the head's
weights are read once per chunk) and takes the fp32 cast and `logsumexp` 16 rows at a time (16 MB, reused by
the allocator). Each row's reduction is the same, so the numbers should be too. The second candidate also cuts
the vocabulary into blocks of 16,384 columns and keeps a running max and sum of exponentials per row (an online
logsumexp, as fused cross-entropy kernels do), so no tensor of a whole vocabulary's logits is ever made; its
rounding differs from `torch.logsumexp`'s. The benchmark checks whether every pair's summed log-probability is
bit-identical to main's (and the largest difference), then times all side by side, interleaved, on 128
prompt + continuation pairs of the cpu profile's train split (as `bench_stage_flops.py`), per size and
precision, median of `--repeats`. Writes data/results/experiments/<name>.json.
"""
import argparse
import statistics
import time

import numpy as np
import torch

from irlkit import config, data, implicit, models, stages, store

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def sliced_token_logprobs(model, hidden: torch.Tensor, targets: torch.Tensor, chunk: int = 256,
                          rows: int = 16) -> torch.Tensor:
    """`implicit.token_logprobs` with the fp32 cast and the normaliser taken `rows` rows at a time."""
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


def blocked_token_logprobs(model, hidden: torch.Tensor, targets: torch.Tensor, chunk: int = 256,
                           block: int = 16384) -> torch.Tensor:
    """`implicit.token_logprobs` with an online logsumexp over blocks of `block` vocabulary columns."""
    head, cap = model.get_output_embeddings(), getattr(model.config, "final_logit_softcapping", None)
    weight, out = head.weight, []
    for i in range(0, len(hidden), chunk):
        h, t = hidden[i:i + chunk], targets[i:i + chunk]
        top = torch.full((len(h),), -torch.inf)
        total, picked = torch.zeros(len(h)), torch.zeros(len(h))
        for v0 in range(0, weight.shape[0], block):
            logits = (h @ weight[v0:v0 + block].T).float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            new_top = torch.maximum(top, logits.amax(-1))
            total = total * torch.exp(top - new_top) + torch.exp(logits - new_top[:, None]).sum(-1)
            top = new_top
            inside = ((t >= v0) & (t < v0 + logits.shape[1])).nonzero()[:, 0]
            picked[inside] = logits[inside, t[inside] - v0]
        out.append(picked - (top + torch.log(total)))
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
    variants = {"main": implicit.token_logprobs, "16-row slices": sliced_token_logprobs,
                "online, vocabulary blocks": blocked_token_logprobs}
    rows = []
    for size in (s.name for s in cfg.sizes):
        policy, tok = models.load_policy(stages.policies.start_folder(ctx, size))
        tok.padding_side = "right"  # as 04 and perplexity call it
        for precision in DTYPES:
            policy.to(DTYPES[precision])
            seconds, sums = {name: [] for name in variants}, {}
            for _ in range(args.repeats + 1):  # the first round warms up and is not timed
                for name, fn in variants.items():
                    implicit.token_logprobs = fn
                    t0 = time.perf_counter()
                    sums[name], lengths = implicit.continuation_logprobs(policy, tok, prompts, texts)
                    seconds[name].append(time.perf_counter() - t0)
            implicit.token_logprobs = variants["main"]
            median = {name: statistics.median(s[1:]) for name, s in seconds.items()}
            head = policy.get_output_embeddings().weight  # vocabulary × hidden
            rows.append({"size": size, "precision": precision, "continuation_tokens": int(lengths.sum()),
                         "head_gflop": 2 * int(lengths.sum()) * head.numel() / 1e9, "seconds": {n: [round(t, 3) for t in s[1:]] for n, s in seconds.items()},
                         "median_seconds": median, "ratio_to_main": {n: median[n] / median["main"] for n in variants},
                         "bit_identical": {n: bool(np.array_equal(sums["main"], sums[n])) for n in variants},
                         "max_abs_difference": {n: float(np.abs(sums["main"] - sums[n]).max()) for n in variants}})
            print(f"{size:14s} {precision}  " + "  ".join(
                f"{n}: {median[n]:.2f} s ({rows[-1]['ratio_to_main'][n]:.2f}x, max |diff| {rows[-1]['max_abs_difference'][n]:.1e})"
                for n in variants), flush=True)
    print(store.write_experiment(args.name, {"pairs": len(texts), "repeats": args.repeats, "rows": rows}, cfg))


if __name__ == "__main__":
    main()
