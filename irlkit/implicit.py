"""The DPO implicit reward: r(x, y) = β·log π_RLHF(y|x)/π_start(y|x) + c(x).

Under KL-regularised RL the optimal policy satisfies this identity, so the two
policies alone give a reward with no training at all: the baseline every IRL
reward here has to beat.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

VOCAB_BLOCK = 16384
"""Vocabulary columns per block of `token_logprobs`'s online normaliser (the fastest of 4k–16k for Gemma's
head in bf16, benchmarks/bench_token_logprobs.py)."""


@torch.inference_mode()
def continuation_logprobs(model, tokenizer, prompts: list[str], continuations: list[str], *,
                          batch_size: int = 16, max_tokens: int | None = None,
                          vocab_block: int = VOCAB_BLOCK, compiled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(sum of log π(y_t | x, y_<t) over the continuation's tokens, number of those tokens) per pair.

    Pairs go in batches of similar length, and the vocabulary projection is computed only for the
    hidden states that predict continuation tokens, a few hundred rows at a time: Gemma's 262k-token
    head would otherwise dominate a forward pass (and its full logits take gigabytes).
    `max_tokens` cuts prompt + continuation to their first this-many tokens; `vocab_block`, `compiled`:
    `token_logprobs`.
    """
    prompt_lengths = [len(tokenizer(p)["input_ids"]) for p in prompts]
    full_ids = [tokenizer(p + c)["input_ids"][:max_tokens] for p, c in zip(prompts, continuations)]
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
        hidden = model.base_model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                                  use_cache=False).last_hidden_state
        predicts = target_mask.roll(-1, dims=1)  # the position before each target predicts it (column 0 never is one)
        logp = token_logprobs(model, hidden[predicts.to(hidden.device)], ids[target_mask].to(hidden.device),
                              vocab_block=vocab_block, compiled=compiled).cpu()
        sums[idx] = torch.zeros(len(idx), dtype=logp.dtype).index_add_(0, target_mask.nonzero()[:, 0], logp).numpy()
        lengths[idx] = target_mask.sum(1).numpy()
    return sums, lengths


def token_logprobs(model, hidden: torch.Tensor, targets: torch.Tensor, *, rows: int = 256,
                   vocab_block: int = VOCAB_BLOCK, compiled: bool = False) -> torch.Tensor:
    """log π(target | hidden state) for rows of final hidden states, through the model's own LM head.

        >>> logp = token_logprobs(model, hidden[:5], torch.tensor([17, 3, 99, 0, 4]))  # five log-probabilities

    `rows` hidden states go through the head at a time, `vocab_block` of its output columns at a time, each
    block's logits in fp32, and the softmax normaliser is accumulated online (`logsumexp` of each block,
    combined by `logaddexp`): no tensor of a whole vocabulary's logits is made. For Gemma's 262,144-token head
    that tensor was 268 MB per 256 rows, and writing and re-reading it was about 45% of 04's bf16 stage
    (benchmarks/bench_token_logprobs.py). The sums differ from one `logsumexp` over the whole row in rounding
    only. `vocab_block=0` takes the whole vocabulary at once, bit-identical to the code before (3a52794d).
    `compiled=True` runs each block's cast, softcap and `logsumexp` as one `torch.compile`d kernel that never
    writes the block's fp32 logits (rounding-level differences; `Config.compile_forward`).
    """
    head, cap = model.get_output_embeddings(), getattr(model.config, "final_logit_softcapping", None)
    weight, bias = head.weight, getattr(head, "bias", None)
    block = vocab_block or weight.shape[0]
    out = []
    for i in range(0, len(hidden), rows):
        h, t = hidden[i:i + rows], targets[i:i + rows]
        normaliser = torch.full((len(h),), -torch.inf, device=h.device)
        target_logit = torch.empty(len(h), device=h.device)
        for v0 in range(0, weight.shape[0], block):
            v1 = min(v0 + block, weight.shape[0])
            logits = F.linear(h, weight[v0:v1], None if bias is None else bias[v0:v1])
            block_normaliser, block_target = (_compiled_block_terms() if compiled else _block_terms)(logits, t - v0, cap)
            normaliser = torch.logaddexp(normaliser, block_normaliser)
            inside = (t >= v0) & (t < v1)
            target_logit[inside] = block_target[inside]
        out.append(target_logit - normaliser)
    return torch.cat(out) if out else hidden.new_zeros(0, dtype=torch.float32)


def _block_terms(logits: torch.Tensor, local_targets: torch.Tensor, cap: float | None):
    """(`logsumexp` of each row of a block of logits, each row's logit at its target column, clamped into the
    block), both in fp32 and after the softcap: one block's share of `token_logprobs`."""
    logits = logits.float()
    if cap:
        logits = torch.tanh(logits / cap) * cap
    column = local_targets.clamp(0, logits.shape[1] - 1)
    return torch.logsumexp(logits, dim=-1), logits.gather(1, column[:, None])[:, 0]


@functools.cache
def _compiled_block_terms():
    return torch.compile(_block_terms, dynamic=True)  # made on first use: importing dynamo takes seconds


def implicit_reward(logp_policy: np.ndarray, logp_reference: np.ndarray, n_tokens: np.ndarray, *,
                    beta: float) -> dict:
    """β·(log π_policy − log π_reference) of each continuation from `continuation_logprobs` of both
    policies: summed over its tokens, and per token."""
    summed = beta * (logp_policy - logp_reference)
    return {"sum": summed, "mean": summed / np.maximum(n_tokens, 1)}
