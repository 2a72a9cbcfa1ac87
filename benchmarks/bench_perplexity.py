"""Perplexity of held-out human comments: full logits of right-padded batches (the usual way, and this
project's until 2026-11-26) vs the vocabulary projected only at target positions, in chunks, over
length-sorted batches (`implicit.continuation_logprobs`). Same model, same texts, one process.

    .venv/bin/python benchmarks/bench_perplexity.py gemma3-270m --repeats 3
"""
import argparse
import math
import statistics
import time

import torch

from irlkit import config, data, models, stages
from irlkit.implicit import continuation_logprobs

parser = argparse.ArgumentParser()
parser.add_argument("size")
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()

cfg = config.load("cpu", progress=False)
torch.set_num_threads(cfg.threads)
prompts = data.load_prompts(cfg)
texts = list(data.split_of(prompts, "test").query("human_label == 0").head(cfg.eval.ppl_texts).text)
model, tok = models.load_policy(stages.Context(cfg).start(args.size))


@torch.inference_mode()
def full_logits(batch_size=16):
    tok.padding_side = "right"
    nll, count = 0.0, 0
    for i in range(0, len(texts), batch_size):
        enc = tok(texts[i:i + batch_size], return_tensors="pt", padding=True, truncation=True, max_length=128)
        logits = model(**enc).logits[:, :-1]
        mask = enc["attention_mask"][:, 1:].bool()
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), enc["input_ids"][:, 1:], reduction="none")
        nll, count = nll + loss[mask].sum().item(), count + int(mask.sum())
    tok.padding_side = "left"
    return math.exp(nll / count)


def targets_only():
    logp, n = continuation_logprobs(model, tok, [""] * len(texts), texts, max_tokens=128)
    return math.exp(-logp.sum() / n.sum())


times = {"full logits": [], "target positions only": []}
values = {}
for _ in range(args.repeats):
    for name, fn in (("full logits", full_logits), ("target positions only", targets_only)):
        t0 = time.perf_counter()
        values[name] = fn()
        times[name].append(time.perf_counter() - t0)
for name, runs in times.items():
    print(f"{name:>22}: perplexity {values[name]:.3f}, median {statistics.median(runs):6.2f} s  runs {[round(r, 2) for r in runs]}")
print(f"ratio: {statistics.median(times['full logits']) / statistics.median(times['target positions only']):.1f}×  ({len(texts)} texts, {args.size})")
