"""What 01, 02 and 05 share: policies trained by RLOO, their continuations, perplexity, toxicity. Not a
notebook's stage module: the builders of the policy stages, which 01 and 05 both train.

    folder, summary = train_policy(ctx, "rlhf_policy", make_reward, ctx.judge_sources(("judge",)), size="tiny-a")
    texts = policy_texts(ctx, "tiny-a-rlhf", folder)                   # scored by both judges
    report = toxicity_report(ctx, before=start_texts, after=texts)     # CIs and the paired test
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from irlkit import data, metrics, models, rlhf, store
from irlkit.rewards import JudgeReward
from irlkit.stages import graph
from irlkit.utils import seed_everything


def policy_texts(ctx, label: str, policy: str, prompts: str = "all", shared: bool = False, samples: int = 0) -> pd.DataFrame:
    """Continuations of the prompts (`all`; one split's; or `evaluation`, val and the report split) by the policy in
    folder `policy`, scored by both judges (the `texts` stage): one per prompt with the profile's decoding, or, with
    `samples` > 0, that many per prompt sampled at temperature 1 (column `sample`). `shared`: a policy that is the
    same in every replicate (the start policy), decoded once with the profile's own seed."""
    cfg = ctx.base_cfg if shared else ctx.cfg
    rows = (ctx.prompts if prompts == "all" else
            ctx.prompts[ctx.prompts.split.isin(["val", data.report_split(cfg)])] if prompts == "evaluation" else
            data.split_of(ctx.prompts, prompts))

    def build(tmp: Path) -> None:
        ctx.log(f"[generate] {label}: {len(rows)} prompts" + (f" × {samples} samples" if samples else ""))
        if samples:
            texts = rlhf.samples(policy, list(rows.prompt), samples, cfg, desc=f"{label} samples")
        else:
            texts = rlhf.continuations(policy, list(rows.prompt), cfg, desc=label)
        df = pd.DataFrame({"prompt_id": np.repeat(rows.prompt_id.values, max(samples, 1)), "text": texts,
                           "p_judge": ctx.judge("judge").score(texts), "p_second": ctx.judge("second").score(texts)})
        if samples:
            df["sample"] = np.tile(np.arange(samples), len(rows))
        df.to_parquet(tmp / "texts.parquet", index=False)

    extra = {"samples": samples} if samples else {}  # (a greedy stage's key stays what it was before samples existed)
    path = graph.build(ctx, "texts", build, upstream=[policy, ctx.prompt_source(), *ctx.judge_sources()],
                       label=label, prompts=prompts, shared=shared, **extra)
    df = pd.read_parquet(path / "texts.parquet")
    return df.assign(split=df.prompt_id.map(ctx.prompts.set_index("prompt_id").split))


def kl_to_start(ctx, label: str, policy: str, size: str) -> dict:
    """How far RLHF moved the policy in folder `policy` from `size`'s start: KL(π ‖ π_start) of whole continuations,
    estimated on the val prompts from `eval.kl_samples` sampled continuations each (temperature 1, the policy's own
    distribution; horizon `sampling.max_new_tokens`) as the mean of log π(y|x) − log π_start(y|x), with its
    standard error (the `policy_kl` stage). Also per token. Val only: no choice reads test prompts."""
    val = data.split_of(ctx.prompts, "val")
    cfg, k = ctx.cfg, ctx.cfg.eval.kl_samples

    def build(tmp: Path) -> None:
        from irlkit import implicit, models, sampling

        prompts = [p for p in val.prompt for _ in range(k)]
        ctx.log(f"[kl] {label}: {k} sampled continuations of {len(val)} val prompts")
        model, tok = models.load_policy(policy, cfg.device)
        if cfg.sampling.precision == "bf16":
            model.to(torch.bfloat16)
        with sampling.inverse_cdf_sampling(True):
            texts = sampling.generate(model, tok, prompts, max_new_tokens=cfg.sampling.max_new_tokens,
                                      batch_size=cfg.sampling.batch_size, do_sample=True, temperature=1.0,
                                      seed=cfg.seed, show_progress=False, desc=f"{label} KL")
        logp = {}
        for who, folder in (("policy", policy), ("start", ctx.start(size))):
            model, tok = models.load_scorer(folder, cfg.device, cfg.eval.logprob_precision, cfg.compile_forward)
            logp[who], tokens = implicit.continuation_logprobs(model, tok, prompts, texts,
                                                               vocab_block=cfg.eval.logprob_vocab_block,
                                                               compiled=cfg.compile_forward)
        ratio = logp["policy"] - logp["start"]
        store.atomic_write_json(tmp / "kl.json", {
            "kl": float(ratio.mean()), "kl_se": float(ratio.std(ddof=1) / np.sqrt(len(ratio))),
            "kl_per_token": float(ratio.sum() / max(tokens.sum(), 1)), "samples": len(ratio),
            "samples_per_prompt": k, "prompts": len(val)})

    path = graph.build(ctx, "policy_kl", build, upstream=[policy, ctx.start(size), ctx.prompt_source()], label=label)
    return store.read_json(path / "kl.json")


def perplexity_of(ctx, label: str, policy: str, shared: bool = False, split: str = "test") -> float:
    """Perplexity of held-out clean human comments of `split` (test: what is reported; val: what a recipe
    is chosen on) under the policy in folder `policy` (the `perplexity` stage; `shared` as in `policy_texts`)."""
    clean = data.split_of(ctx.prompts, split).query("human_label == 0").head(ctx.cfg.eval.ppl_texts)
    path = graph.build(ctx, "perplexity", lambda tmp: store.atomic_write_json(
        tmp / "ppl.json", {"perplexity": rlhf.perplexity(policy, list(clean.text), ctx.cfg), "n": len(clean)}),
        upstream=[policy, ctx.prompt_source()], label=label, split=split, shared=shared)
    return store.read_json(path / "ppl.json")["perplexity"]


def train_policy(ctx, stage: str, make_reward, upstream: list, **params) -> tuple[str, dict]:
    """RLOO of `params["size"]` from its start checkpoint with the reward `make_reward()` (called only when
    the policy is trained), training seed the replicate's + `params["run"]`: stage `stage` (`rlhf_policy`,
    `irl_policy` or `random_policy`), which also reads the folders `upstream` (the reward's own).
    Returns (policy folder, {steps, wall_seconds})."""
    size, run = params["size"], params.get("run", 0)
    rc, seed = ctx.cfg.rlhf_for(size), ctx.cfg.seed + run
    start = ctx.start(size)

    def build(tmp: Path) -> None:
        seed_everything(seed)
        ctx.log(f"[rlhf] {tmp.name}: {rc.steps} RLOO steps, lr {rc.learning_rate:g}, {rc.prompts_per_step}×{rc.num_generations} "
                f"completions, seed {seed}")
        rlhf.train(start, data.split_of(ctx.prompts, "train"), make_reward(), rc, tmp,
                   max_new_tokens=ctx.cfg.sampling.max_new_tokens, seed=seed, device=ctx.cfg.device,
                   desc=graph.policy_label(size, params.get("arm", "true"), run))

    path = graph.build(ctx, stage, build, upstream=[start, ctx.prompt_source(), *upstream], **params)
    return str(path), store.read_json(path / "summary.json")


def true_reward(ctx, size: str):
    """RLHF's reward: −P(toxic) under the ground-truth judge (what `make_reward` of `train_policy` returns)."""
    return rlhf.reward_function(JudgeReward(ctx.judge("judge")), baseline=ctx.cfg.rlhf_for(size).baseline)


def rlhf_policy(ctx, size: str, run: int = 0) -> tuple[str, dict]:
    """RLOO of `size` against the ground-truth judge (run 0: 01's policy; 05's true arm adds runs); (folder, summary).
    A size with an already-aligned policy (`PolicySpec.aligned`) trains nothing for run 0: that policy is 01's."""
    aligned = ctx.cfg.size(size).aligned
    if aligned and run == 0:
        return models.materialise(aligned), {"steps": 0, "wall_seconds": 0.0, "aligned": aligned}
    return train_policy(ctx, "rlhf_policy", lambda: true_reward(ctx, size), ctx.judge_sources(("judge",)),
                        size=size, run=run)


def rlhf_folder(ctx, size: str) -> str:
    """01's policy of `size` as 02–05 read it: the finished `rlhf_policy` stage, checked against this config, or the
    already-aligned policy the size names (`PolicySpec.aligned`)."""
    aligned = ctx.cfg.size(size).aligned
    return models.materialise(aligned) if aligned else str(graph.require(ctx, "rlhf_policy", size=size))


def toxicity_report(ctx, before: pd.DataFrame, after: pd.DataFrame) -> dict:
    """Both judges: each policy's toxicity with CIs, and the paired comparison after vs before."""
    ec = ctx.cfg.eval
    kw = dict(n=ec.n_bootstrap, ci=ec.ci, seed=ec.bootstrap_seed)
    merged = before.merge(after, on="prompt_id", suffixes=("_before", "_after"))
    out = {}
    for which, name in (("judge", ctx.cfg.judge), ("second", ctx.cfg.second_judge)):
        b, a = merged[f"p_{which}_before"].values, merged[f"p_{which}_after"].values
        out[which] = {"name": name, "before": metrics.toxicity(b, **kw), "after": metrics.toxicity(a, **kw),
                      "paired": metrics.compare_policies(b, a, **kw)}
    return out


def write_curves(ctx, name: str, policies: dict[str, str]) -> pd.DataFrame:
    """The RLOO training logs of `policies` ({label: folder}) as one results table (`layout.table(name)`),
    so that 06 draws the curves from committed files."""
    logs = [rlhf.read_log(Path(folder)).assign(policy=label) for label, folder in policies.items()
            if (Path(folder) / "log.jsonl").exists()]  # an already-aligned policy (PolicySpec.aligned) has none
    curves = pd.concat(logs, ignore_index=True) if logs else pd.DataFrame(columns=["step", "reward", "kl", "policy"])
    store.atomic_write_text(ctx.layout.table(name), curves.to_csv(index=False))
    return curves


def sample_table(ctx, columns: dict[str, pd.DataFrame], n: int = 6) -> pd.DataFrame:
    """The same test prompts, continued by several policies, with both judges' scores."""
    test = data.split_of(ctx.prompts, "test")
    rows = test.sample(n=min(n, len(test)), random_state=ctx.cfg.seed)[["prompt_id", "prompt"]]
    for label, df in columns.items():
        d = df.set_index("prompt_id")
        rows[label] = [f"{d.text[i]!r}  [{d.p_judge[i]:.2f} / {d.p_second[i]:.2f}]" for i in rows.prompt_id]
    return rows.drop(columns="prompt_id").reset_index(drop=True)
