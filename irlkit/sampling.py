"""Batched generation, and the paired demonstrations IRL learns from.

One `generate` call per batch of left-padded prompts (the study called it once
per prompt; benchmarks/bench_sampling.py measures the difference).
"""
from __future__ import annotations

import numpy as np
import torch

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
    for idx in progress(batches, desc=desc) if show_progress else batches:
        enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True).to(model.device)
        ids = model.generate(**enc, **kwargs)
        texts = tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        for i, text in zip(idx, texts):
            out[i] = text
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
