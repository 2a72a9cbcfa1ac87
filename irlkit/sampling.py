"""Batched generation, and the paired demonstrations IRL learns from.

One `generate` call per batch of left-padded prompts (the study called it once
per prompt; benchmarks/bench_sampling.py measures the difference).
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from irlkit.progress import Counter
from irlkit.utils import progress


@torch.inference_mode()
def generate(model, tokenizer, prompts: list[str], *, max_new_tokens: int, batch_size: int = 32,
             do_sample: bool = False, temperature: float = 1.0, seed: int = 0, show_progress: bool = True,
             desc: str = "generate") -> list[str]:
    """One continuation per prompt, in the order given. Greedy unless `do_sample`."""
    if tokenizer.padding_side != "left":
        raise ValueError("batched generation needs a left-padding tokenizer (models.load_tokenizer gives one)")
    # Similar lengths in a batch waste less padding; results go back in the caller's order.
    order = np.argsort([len(p) for p in prompts], kind="stable")
    out: list[str] = [""] * len(prompts)
    torch.manual_seed(seed)
    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, pad_token_id=tokenizer.pad_token_id)
    kwargs.update(temperature=temperature, top_k=0, top_p=1.0) if do_sample else kwargs.update(
        temperature=None, top_k=None, top_p=None)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    counter = Counter(f"[generate] {desc}", len(batches), unit="batch")
    for done, idx in enumerate(progress(batches, desc=desc) if show_progress else batches, 1):
        enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True).to(model.device)
        ids = model.generate(**enc, **kwargs)
        texts = tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        for i, text in zip(idx, texts):
            out[i] = text
        counter.update(done)
    return out


@torch.inference_mode()
def generate_one_by_one(model, tokenizer, prompts: list[str], *, max_new_tokens: int) -> list[str]:
    """The study's way (one call per prompt, greedy): kept for the benchmark and the equivalence test."""
    out = []
    for prompt in prompts:
        enc = tokenizer(prompt, return_tensors="pt").to(model.device)
        ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             temperature=None, top_k=None, top_p=None)
        out.append(tokenizer.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))
    return out


# -- drawing a token from the softmax ------------------------------------------------------------

BLOCK = 1024
"""Tokens per block of `draw_categorical`'s first level."""


def draw_categorical(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per row of `probs` (non-negative weights; rows need not sum to 1): the law of
    `torch.multinomial(probs, 1)` and its shape, by inverse CDF with two uniforms per row.

    On a CPU `torch.multinomial` draws one exponential per vocabulary entry, which costs a large
    vocabulary dearly (benchmarks/README.md, `bench_categorical.py`). This picks a block of
    `BLOCK` tokens by the blocks' masses, then a token within the block, both from float64 cumulative
    sums, so even a 262k-entry row keeps every token's probability to float precision.
    """
    rows = probs.reshape(-1, probs.shape[-1])
    vocab = rows.shape[-1]
    padded = torch.nn.functional.pad(rows, (0, -vocab % BLOCK)) if vocab % BLOCK else rows
    blocks = padded.reshape(len(rows), -1, BLOCK)
    mass = blocks.sum(-1, dtype=torch.float32).double()
    if not torch.isfinite(mass).all() or (mass.sum(-1) <= 0).any() or (rows.min() < 0).item():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0, or a row sums to 0")
    block = _inverse_cdf(mass, generator)
    within = _inverse_cdf(blocks[torch.arange(len(rows), device=rows.device), block].double(), generator)
    token = (block * BLOCK + within).clamp_max(vocab - 1)
    return token.view(1) if probs.dim() == 1 else token[:, None]


def _inverse_cdf(weights: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Per row, index i with probability weights[i] / weights.sum()."""
    cdf = weights.cumsum(-1)
    u = torch.rand(len(cdf), 1, dtype=cdf.dtype, device=cdf.device, generator=generator) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True)[:, 0].clamp_max(cdf.shape[-1] - 1)


@contextlib.contextmanager
def inverse_cdf_sampling(enabled: bool = True):
    """Within the block, `torch.multinomial(probs, 1)` (how transformers' `generate` samples each
    token, and so TRL's RLOO) draws with `draw_categorical`; every other call is torch's own."""
    if not enabled:
        yield
        return
    original = torch.multinomial

    def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
        if num_samples == 1 and out is None and input.dim() in (1, 2) and input.is_floating_point():
            return draw_categorical(input, generator)
        return original(input, num_samples, replacement, generator=generator, out=out)

    torch.multinomial = multinomial
    try:
        yield
    finally:
        torch.multinomial = original
