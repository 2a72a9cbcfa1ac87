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
    """(sum of log π(y_t | x, y_<t) over the continuation's tokens, number of those tokens) per pair."""
    sums, lengths = [], []
    for i in range(0, len(prompts), batch_size):
        ps, cs = prompts[i:i + batch_size], continuations[i:i + batch_size]
        prompt_ids = [tokenizer(p)["input_ids"] for p in ps]
        full_ids = [tokenizer(p + c)["input_ids"] for p, c in zip(ps, cs)]
        width = max(len(f) for f in full_ids)
        pad = tokenizer.pad_token_id
        ids = torch.full((len(ps), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ps), width), dtype=torch.long)
        target_mask = torch.zeros((len(ps), width), dtype=torch.bool)
        for row, (p, f) in enumerate(zip(prompt_ids, full_ids)):
            ids[row, :len(f)], mask[row, :len(f)] = torch.tensor(f), 1
            target_mask[row, min(len(p), len(f)):len(f)] = True  # the continuation's tokens
        logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits.float().cpu()
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
        tm = target_mask[:, 1:]
        sums.append((logp * tm).sum(1).numpy())
        lengths.append(tm.sum(1).numpy())
    return np.concatenate(sums), np.concatenate(lengths)


def implicit_reward(policy, reference, tokenizer, prompts: list[str], continuations: list[str], *, beta: float) -> dict:
    """β·(log π_policy − log π_reference) of each continuation: summed, and per token."""
    lp_policy, n = continuation_logprobs(policy, tokenizer, prompts, continuations)
    lp_ref, _ = continuation_logprobs(reference, tokenizer, prompts, continuations)
    summed = beta * (lp_policy - lp_ref)
    return {"sum": summed, "mean": summed / np.maximum(n, 1)}
