"""02 · Paired demonstrations: the expert (RLHF policy) and the unaligned policy on every prompt.

    summary = stages.demos.run(ctx)              # -> sampling.json, one dataset per size
    demos = stages.demos.load(ctx, "tiny-a")     # a DataFrame: prompt, expert_text, start_text, scores
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from irlkit import data, models, store
from irlkit.stages.policies import folder_key, policy_texts, start_folder
from irlkit.stages.rlhf import checked_rlhf_policy


def run(ctx) -> dict:
    """Paired demonstrations per size: expert (RLHF policy) and unaligned (start or base) continuations."""
    import datasets

    cfg, summary = ctx.cfg, {}
    for spec in cfg.sizes:
        policy = checked_rlhf_policy(ctx, spec.name)  # 01's, made with this config
        unaligned_source = unaligned_folder(ctx, spec.name)
        expert = policy_texts(ctx, f"{spec.name}-rlhf", policy, ctx.prompts)
        unaligned = policy_texts(ctx, f"{spec.name}-{cfg.sampling.unaligned}", unaligned_source, ctx.prompts,
                                 shared=True)  # the start (or base) policy is the same in every replicate
        originals = {"judge": ctx.judge("judge").score(list(ctx.prompts.original_output)),
                     "second": ctx.judge("second").score(list(ctx.prompts.original_output))}
        demos = ctx.prompts.drop(columns="text").assign(
            expert_text=expert.text.values, start_text=unaligned.text.values,
            original_output_judge=originals["judge"], original_output_second=originals["second"],
            expert_text_judge=expert.p_judge.values, expert_text_second=expert.p_second.values,
            start_text_judge=unaligned.p_judge.values, start_text_second=unaligned.p_second.values)
        store.stage(ctx.layout.demos(spec.name), demos_key(ctx, spec.name),
                    lambda tmp: datasets.Dataset.from_pandas(demos, preserve_index=False).save_to_disk(str(tmp / "dataset")),
                    seed=cfg.seed, log=ctx.log)
        summary[spec.name] = {"unaligned": cfg.sampling.unaligned, "splits": split_summary(demos)}
    store.write_result(ctx.layout.result("sampling"), {"sizes": summary}, cfg)
    return summary


def split_summary(demos: pd.DataFrame) -> dict:
    """Per split: mean toxicity of each side, how often each judge prefers the expert, ties."""
    per_split = {}
    for split in data.SPLITS:
        d = demos[demos.split == split]
        per_split[split] = {
            "n": int(len(d)),
            "mean_toxicity": {s: float(d[f"{s}_judge"].mean()) for s in ("expert_text", "start_text", "original_output")},
            "judge_prefers_expert": float(np.mean(d.expert_text_judge < d.start_text_judge)),
            "second_prefers_expert": float(np.mean(d.expert_text_second < d.start_text_second)),
            "ties": float(np.mean(np.isclose(d.expert_text_judge, d.start_text_judge)))}
    return per_split


def unaligned_folder(ctx, size: str) -> str:
    """Who writes the unaligned side (`sampling.unaligned`): the RLHF start, or the base model."""
    spec = ctx.cfg.size(size)
    return start_folder(ctx, size) if ctx.cfg.sampling.unaligned == "start" else models.materialise(spec.base or spec.start)


def demos_key(ctx, size: str) -> dict:
    """Everything one size's demonstrations depend on: both policies, the prompts, the decoding."""
    return {"expert": folder_key(str(ctx.layout.policy(f"{size}-rlhf"))), "unaligned": folder_key(unaligned_folder(ctx, size)),
            "prompts": ctx.prompts_key, "sampling": ctx.cfg.to_dict()["sampling"]}


def key(ctx, size: str) -> str:
    """The demonstrations' identity, chained into every downstream stage's key: an error if 02 has not run,
    or ran with other settings or another policy than this config's."""
    checked_rlhf_policy(ctx, size)
    return store.key_of(store.require(ctx.layout.demos(size), demos_key(ctx, size), "02_sampling"))


def load(ctx, size: str) -> pd.DataFrame:
    import datasets

    key(ctx, size)
    return datasets.load_from_disk(str(ctx.layout.demos(size) / "dataset")).to_pandas()
