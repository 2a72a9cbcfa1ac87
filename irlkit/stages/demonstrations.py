"""02 · Paired demonstrations: the expert (RLHF policy) and the unaligned policy on every prompt.

    summary = stages.demonstrations.run(ctx)       # -> sampling.json, one dataset per size
    demos = stages.artifacts.demos(ctx, "tiny-a")  # a DataFrame: prompt, expert_text, start_text, scores
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from irlkit import data, store
from irlkit.stages import graph
from irlkit.stages.policies import policy_texts, rlhf_folder


def run(ctx) -> dict:
    """Paired demonstrations per size: expert (RLHF policy) and unaligned (start or base) continuations."""
    import datasets

    cfg, summary = ctx.cfg, {}
    k = cfg.sampling.train_samples
    for spec in cfg.sizes:
        policy = rlhf_folder(ctx, spec.name)  # 01's, made with this config (or the size's already-aligned policy)
        expert_label, unaligned_label = graph.policy_label(spec.name, "true"), f"{spec.name}-{cfg.sampling.unaligned}"
        expert = policy_texts(ctx, expert_label, policy)
        # the start (or base) policy is the same in every replicate
        unaligned = policy_texts(ctx, unaligned_label, ctx.unaligned(spec.name), shared=True)
        originals = {"judge": ctx.judge("judge").score(list(ctx.prompts.original_output)),
                     "second": ctx.judge("second").score(list(ctx.prompts.original_output))}
        demos = ctx.prompts.drop(columns="text").assign(
            sample=0, expert_text=expert.text.values, start_text=unaligned.text.values,
            original_output_judge=originals["judge"], original_output_second=originals["second"],
            expert_text_judge=expert.p_judge.values, expert_text_second=expert.p_second.values,
            start_text_judge=unaligned.p_judge.values, start_text_second=unaligned.p_second.values)
        texts = [graph.folder(ctx, "texts", label=expert_label),
                 graph.folder(ctx, "texts", label=unaligned_label, shared=True)]
        if k:  # IRL learns from k sampled pairs per train prompt; val and test keep theirs
            sampled = {side: policy_texts(ctx, label, folder, prompts="train", shared=shared, samples=k)
                       for side, label, folder, shared in (("expert_text", expert_label, policy, False),
                                                           ("start_text", unaligned_label, ctx.unaligned(spec.name), True))}
            demos = pd.concat([demos[demos.split != "train"], train_samples(demos, sampled)], ignore_index=True)
            texts += [graph.folder(ctx, "texts", label=expert_label, prompts="train", samples=k),
                      graph.folder(ctx, "texts", label=unaligned_label, prompts="train", shared=True, samples=k)]
        graph.build(ctx, "demos",
                    lambda tmp: datasets.Dataset.from_pandas(demos, preserve_index=False).save_to_disk(str(tmp / "dataset")),
                    upstream=[*texts, ctx.prompt_source(), *ctx.judge_sources()], size=spec.name)
        summary[spec.name] = {"unaligned": cfg.sampling.unaligned, "train_samples": k, "splits": split_summary(demos)}
    store.write_result(ctx.layout.result("sampling"), {"sizes": summary}, cfg)
    return summary


def train_samples(demos: pd.DataFrame, sampled: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The train rows of `demos` once per sample: the expert's i-th sampled continuation of a prompt beside the
    unaligned side's i-th (`sampled`: each side's `policy_texts` with samples), with their judges' scores."""
    train = demos[demos.split == "train"].drop(columns=["sample", "expert_text", "start_text", "expert_text_judge",
                                                        "expert_text_second", "start_text_judge", "start_text_second"])
    rows = sampled["expert_text"][["prompt_id", "sample"]]
    for side, df in sampled.items():
        if not df[["prompt_id", "sample"]].equals(rows):
            raise RuntimeError(f"the sampled {side} rows are not in the expert's (prompt, sample) order")
    out = rows.merge(train, on="prompt_id", how="left", validate="many_to_one")
    for side, df in sampled.items():
        out[side], out[f"{side}_judge"], out[f"{side}_second"] = df.text.values, df.p_judge.values, df.p_second.values
    return out[list(demos.columns)]


def split_summary(demos: pd.DataFrame) -> dict:
    """Per split: mean toxicity of each side, how often each judge prefers the expert, the mean gap in the judge's
    P(toxic) (start − expert), ties: how much of the goal the demonstrations carry."""
    per_split = {}
    for split in [s for s in data.SPLITS if (demos.split == s).any()]:
        d = demos[demos.split == split]
        per_split[split] = {
            "n": int(len(d)),
            "mean_toxicity": {s: float(d[f"{s}_judge"].mean()) for s in ("expert_text", "start_text", "original_output")},
            "judge_prefers_expert": float(np.mean(d.expert_text_judge < d.start_text_judge)),
            "mean_judge_gap": float(np.mean(d.start_text_judge - d.expert_text_judge)),
            "second_prefers_expert": float(np.mean(d.expert_text_second < d.start_text_second)),
            "ties": float(np.mean(np.isclose(d.expert_text_judge, d.start_text_judge)))}
    return per_split
