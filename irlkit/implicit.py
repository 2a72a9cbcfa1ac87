"""The DPO implicit reward: r(x, y) = β·log π_RLHF(y|x)/π_start(y|x) + c(x).

Under KL-regularised RL the optimal policy satisfies this identity, so the two
policies alone give a reward with no training at all: the baseline every IRL
reward here has to beat.
"""
from __future__ import annotations

import numpy as np
import torch


@torch.inference_mode()
def continuation_logprobs(model, tokenizer, prompts: list[str], continuations: list[str], *,
                          batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(sum of log π(y_t | x, y_<t) over the continuation's tokens, number of those tokens) per pair.

    Pairs go in batches of similar length, and the vocabulary projection is computed only at the
    positions that predict continuation tokens (Gemma's 262k-token head dominates a forward pass).
    """
    prompt_lengths = [len(tokenizer(p)["input_ids"]) for p in prompts]
    full_ids = [tokenizer(p + c)["input_ids"] for p, c in zip(prompts, continuations)]
    sums, lengths = np.zeros(len(prompts)), np.zeros(len(prompts), dtype=np.int64)
    order = np.argsort([len(f) for f in full_ids], kind="stable")
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        width = max(len(full_ids[j]) for j in idx)
        ids = torch.full((len(idx), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        target_mask = torch.zeros((len(idx), width), dtype=torch.bool)
        for row, j in enumerate(idx):
            f = full_ids[j]
            ids[row, :len(f)], mask[row, :len(f)] = torch.tensor(f), 1
            target_mask[row, max(min(prompt_lengths[j], len(f)), 1):len(f)] = True  # the continuation's tokens
        if not target_mask.any():
            continue  # no continuation tokens in this batch
        first = int(target_mask.any(0).nonzero()[0])  # >= 1: position 0 is never a target
        keep = torch.arange(first - 1, width - 1)  # positions whose next token is a target
        logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                       logits_to_keep=keep.to(model.device)).logits.float().cpu()
        targets = ids[:, first:]
        logp = logits.gather(-1, targets[..., None])[..., 0] - torch.logsumexp(logits, dim=-1)
        tm = target_mask[:, first:]
        sums[idx] = (logp * tm).sum(1).numpy()
        lengths[idx] = tm.sum(1).numpy()
    return sums, lengths


def implicit_reward(policy, reference, tokenizer, prompts: list[str], continuations: list[str], *, beta: float) -> dict:
    """β·(log π_policy − log π_reference) of each continuation: summed, and per token."""
    lp_policy, n = continuation_logprobs(policy, tokenizer, prompts, continuations)
    lp_ref, _ = continuation_logprobs(reference, tokenizer, prompts, continuations)
    summed = beta * (lp_policy - lp_ref)
    return {"sum": summed, "mean": summed / np.maximum(n, 1)}
