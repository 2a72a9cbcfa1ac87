"""01 · Alignment: RLHF of every size against the ground-truth judge, and the judges' own quality.

    judges = stages.alignment.run_judges(ctx)   # each judge against human labels -> judges.json
    result = stages.alignment.run(ctx)          # RLOO per size; its KL to the start (val); start vs RLHF on test
                                                # -> rlhf.json, rlhf_curves.csv
"""
from __future__ import annotations

import dataclasses

import numpy as np

from irlkit import data, metrics, store
from irlkit.stages import graph
from irlkit.stages.context import in_parallel, largest_first
from irlkit.stages.policies import kl_to_start, perplexity_of, policy_texts, rlhf_policy, toxicity_report, write_curves


def rlhf_texts(ctx, size: str):
    """The RLHF policy's continuations of every prompt (what 02 and 05 compare against)."""
    return policy_texts(ctx, graph.policy_label(size, "true"), rlhf_policy(ctx, size)[0])


def start_texts(ctx, size: str):
    """The start policy's continuations of every prompt."""
    return policy_texts(ctx, f"{size}-start", ctx.start(size), shared=True)


def start_perplexity(ctx, size: str) -> float:
    """The start policy's perplexity of the clean test comments (shared by every replicate)."""
    return perplexity_of(ctx, f"{size}-start", ctx.start(size), shared=True)


def _rlhf_perplexity(ctx, size: str) -> None:
    perplexity_of(ctx, graph.policy_label(size, "true"), rlhf_policy(ctx, size)[0])


def rlhf_kl(ctx, size: str) -> dict:
    """How far RLHF moved the policy: its KL to the start on the val prompts (sampled continuations)."""
    return kl_to_start(ctx, graph.policy_label(size, "true"), rlhf_policy(ctx, size)[0], size)


def run(ctx) -> dict:
    """RLHF of every size against the ground-truth judge; start vs RLHF on the test prompts."""
    cfg, results = ctx.cfg, {}
    # a policy's texts and perplexity are two jobs after its training: the worker the smaller size's RLOO
    # frees takes one of them (benchmarks/README.md, "01's jobs")
    sizes = largest_first(cfg)
    in_parallel(ctx, [(f"{size}-rlhf", rlhf_policy, size) for size in sizes]
                + [job for size in sizes for job in ((f"{size}-rlhf texts", rlhf_texts, size),
                                                     (f"{size}-rlhf perplexity", _rlhf_perplexity, size),
                                                     (f"{size}-rlhf kl", rlhf_kl, size))]
                + [job for size in sizes for job in ((f"{size}-start texts", start_texts, size),
                                                     (f"{size}-start perplexity", start_perplexity, size))],
                after={f"{size}-rlhf {what}": f"{size}-rlhf" for size in sizes for what in ("texts", "perplexity", "kl")})
    for spec in cfg.sizes:  # every stage below is now finished: this reads them
        policy, summary = rlhf_policy(ctx, spec.name)
        test = lambda df: df[df.split == "test"]  # noqa: E731
        results[spec.name] = {
            "params_m": spec.params_m, **summary, "settings": dataclasses.asdict(cfg.rlhf_for(spec.name)),
            **toxicity_report(ctx, test(start_texts(ctx, spec.name)), test(rlhf_texts(ctx, spec.name))),
            "perplexity": {"start": start_perplexity(ctx, spec.name),
                           "rlhf": perplexity_of(ctx, graph.policy_label(spec.name, "true"), policy)},
            "kl_to_start": rlhf_kl(ctx, spec.name),
        }
    write_curves(ctx, "rlhf_curves", {spec.name: rlhf_policy(ctx, spec.name)[0] for spec in cfg.sizes})
    store.write_result(ctx.layout.result("rlhf"), {"sizes": results}, cfg)
    return results


def run_judges(ctx) -> dict:
    """Each judge against the human labels of whole comments that no choice of the profile reads: every
    comment of the data set but the profile's train and val prompts and, except in the final replicates, its
    sealed test set; and the judges' agreement."""
    from dataclasses import replace

    from scipy.stats import spearmanr
    from sklearn.metrics import f1_score, roc_auc_score

    cfg = ctx.cfg
    raw = data.LOADERS[cfg.data.dataset]()
    full = data.build_prompts(raw, replace(cfg, data=replace(cfg.data, max_prompts=0)))
    used = set(ctx.prompts.prompt_id[ctx.prompts.split.isin(["train", "val"])])
    if not cfg.data.sealed:  # the sealed test set is read by the final replicates only
        used |= set(data.sealed_prompts(raw, data.build_prompts(raw, cfg), cfg).prompt_id)
    test = full[~full.prompt_id.isin(used)]
    labels = test.human_label.values.astype(bool)
    scores, out = {}, {"dataset": cfg.data.dataset,
                       "comments": "all but the profile's train and val prompts" + ("" if cfg.data.sealed else " and its sealed set"),
                       "n": int(len(test)), "toxic_share": float(labels.mean()), "judges": {}}
    for which in ("judge", "second"):
        judge = ctx.judge(which)
        p = judge.score(list(test.text))
        scores[which] = p
        pred = metrics.is_toxic(p)
        out["judges"][judge.name] = {"role": which, "roc_auc": float(roc_auc_score(labels, p)),
                                     "accuracy": float(np.mean(pred == labels)), "f1": float(f1_score(labels, pred)),
                                     "n": int(len(p))}
    out["agreement"] = {"same_decision": float(np.mean(metrics.is_toxic(scores["judge"]) == metrics.is_toxic(scores["second"]))),
                        "spearman": float(spearmanr(scores["judge"], scores["second"])[0])}
    store.write_result(ctx.layout.result("judges"), out, ctx.cfg)
    return out
