"""04 · Evaluation: every reward model, the implicit DPO reward, a random head and the judges, on test.

    result = stages.evaluation.run(ctx)    # -> irl.json; result[size]["selected"] is the reward 05 uses
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from irlkit import evidence, implicit, irl, metrics, models, posterior, progress, store
from irlkit.rewards import random_probe
from irlkit.config import Config
from irlkit.stages import artifacts, graph
from irlkit.stages.context import in_parallel, largest_first

IMPLICIT_POLICIES = ("rlhf", "start")
"""The two policies whose log-ratio is the implicit reward: π_RLHF, π_start."""

def pools(demos: pd.DataFrame, cfg: Config) -> dict[str, pd.DataFrame]:
    """The four eval sets (`irl.EVAL_SETS`) as frames with the judges' scores and human labels."""
    return {"val_pool": irl.text_pool(demos, "val", cfg.irl.with_prompt),
            "test_pool": irl.text_pool(demos, "test", cfg.irl.with_prompt),
            "val_comments": irl.comment_pool(demos, "val", cfg.irl.with_prompt),
            "test_comments": irl.comment_pool(demos, "test", cfg.irl.with_prompt)}


def _standardise(rewards: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per seed, z-score with the reference (val) statistics: seeds' scales differ (max-margin has none)."""
    mu, sd = reference.mean(axis=1, keepdims=True), reference.std(axis=1, keepdims=True) + 1e-12
    return (rewards - mu) / sd


def model_result(mode: str, loss: str, history: pd.DataFrame, rewards: dict, eval_sets: dict) -> dict:
    """irl.json's entry of one (mode, loss): per-seed metrics and their spread, ensemble, seed agreement, the
    seed selected on val. `rewards[name]` is seeds × texts for each set; `history` has a final-epoch val_auc per seed."""
    per_seed = [evidence.evaluate_reward(*eval_sets.values(), {k: rewards[k][i] for k in eval_sets})
                for i in range(len(rewards["seeds"]))]
    ensemble_r = {k: _standardise(rewards[k], rewards["val_pool" if "pool" in k else "val_comments"]).mean(0)
                  for k in eval_sets}
    agreement = metrics.seed_agreement(rewards["test_pool"])
    flats = [evidence.flat(r) for r in per_seed]
    final_val_auc = [h.val_auc.iloc[-1] for _, h in history.groupby("seed", sort=False)]
    selected = int(np.nanargmax(final_val_auc))
    return {
        "mode": mode, "loss": loss, "n_seeds": len(per_seed), "val_auc": metrics.spread(final_val_auc),
        "metrics": {m: metrics.spread([f[m] for f in flats]) for m in evidence.FLAT_METRICS},
        "ensemble": evidence.score(eval_sets, ensemble_r),
        "selected_on_val": {"seed": int(rewards["seeds"][selected]), **evidence.flat(per_seed[selected]),
                            "confusion_judge": per_seed[selected]["judge"]["confusion"],
                            "confusion_human": per_seed[selected]["human"]["confusion"]},
        "seed_agreement_mean": metrics.mean_off_diagonal(agreement),
        "seed_agreement": agreement.tolist(),
        "per_seed": flats,
    }


def choose_model(cfg: Config, models_result: dict) -> str:
    """The `mode/loss` whose reward 05 uses: `refinetune.loss`, or under `auto` the best mean val AUC."""
    rc = cfg.refinetune
    if rc.loss != "auto":
        return f"{rc.mode}/{rc.loss}"
    candidates = {k: v["val_auc"]["mean"] for k, v in models_result.items() if v["mode"] == rc.mode}
    return max(candidates, key=candidates.get)


def _random_reference(ctx, size: str, eval_sets: dict) -> dict:
    """05's random-reward control scored like a recovered reward: a random direction in the backbone's
    feature space need not be neutral, and this says how far it already agrees with the judge. Its head
    reads the probes' own cached features (`irl.feature_precision`), as the probe it is compared with does."""
    head = random_probe(artifacts.probes(ctx, size, ctx.cfg.irl.losses[0])[0], ctx.cfg.refinetune.random_seed)
    feats = artifacts.features(ctx, size)
    r = {k: head(feats[k]) for k in eval_sets}
    return evidence.score(eval_sets, r), r


def _judge_references(eval_sets: dict) -> dict:
    """The judges scored as if they were recovered rewards: the ceiling on the same texts."""
    test = eval_sets["test_pool"]
    out = {}
    for which in ("judge", "second"):
        r = -test[f"p_{which}"].values
        src = test.source.values
        auc = lambda mask: metrics.reward_vs_judge(r[mask], test.p_judge.values[mask])["auc"]  # noqa: E731
        out[which] = {"pairwise_accuracy": metrics.pairwise_accuracy(r[src == "expert"], r[src == "start"]),
                      "auc_vs_judge": auc(np.ones(len(r), bool)), "auc_model_text": auc(src != "original"),
                      "auc_human_text": auc(src == "original")}
    return out


def _evidence(ctx, size: str, size_out: dict, eval_sets: dict, rewards_by_name: dict) -> None:
    """Intervals over test prompts for the selected IRL reward, the implicit reward and the random head,
    their paired comparisons, and the supervised ceiling on the same features (into `size_out`)."""
    ec = ctx.cfg.eval
    with progress.phase(f"[eval] {size}: intervals over test prompts ({ec.n_bootstrap} resamples)"):
        cis = evidence.prompt_bootstrap(rewards_by_name, eval_sets, n=ec.n_bootstrap, ci=ec.ci, seed=ec.bootstrap_seed)
    size_out["selected_reward"] = {"model": size_out["selected"], **evidence.flat_with_ci(cis["irl"])}
    size_out["implicit"]["sum"].update(evidence.flat_with_ci(cis["implicit"]))
    size_out["random"].update(evidence.flat_with_ci(cis["random"]))
    size_out["comparisons"] = {"irl_vs_implicit": evidence.compare(cis, "irl", "implicit", ec.ci),
                               "irl_vs_random": evidence.compare(cis, "irl", "random", ec.ci)}
    shared = eval_sets["test_pool"].source.values != "expert"  # human and start texts: the same in every replicate
    size_out["selected_reward"]["shared_scores"] = rewards_by_name["irl"]["test_pool"][shared].tolist()
    demos = artifacts.demos(ctx, size)
    train = demos[demos.split == "train"]
    toxic = metrics.is_toxic(np.concatenate([train.expert_text_judge.values, train.start_text_judge.values]))
    feats = artifacts.features(ctx, size)
    with progress.phase(f"[eval] {size}: supervised ceiling"):
        c, r = evidence.ceiling(feats, toxic, eval_sets["val_pool"])
    if r is not None:
        size_out["ceiling"] = {"fit": "logistic regression on the train texts' judge labels, C chosen on val",
                               "C": c, **evidence.score(eval_sets, r)}
        size_out["share_of_ceiling"] = size_out["selected_reward"]["auc"] / size_out["ceiling"]["auc"]
    _identifiability(ctx, size, size_out, feats, eval_sets)


def _identifiability(ctx, size: str, size_out: dict, feats: dict, eval_sets: dict) -> None:
    """How uniquely the demonstrations pin the reward down: the Bradley–Terry posterior over the head
    and its contraction with data, and the selected setting retrained on resampled demonstrations."""
    ic, ec, seed = ctx.cfg.irl, ctx.cfg.eval, ctx.cfg.seed
    with progress.phase(f"[eval] {size}: posterior over the head and its contraction"):
        size_out.update(posterior.analyse(feats, eval_sets, prior_scales=ec.prior_scales, n_samples=ec.posterior_samples,
                                          contraction_pairs=ec.contraction_pairs, seed=seed))
    mode, loss = size_out["selected"].split("/")
    if mode == "probe":
        with progress.phase(f"[eval] {size}: {ec.demo_bootstraps} probes on resampled demonstrations"):
            size_out["bootstrap"] = posterior.demo_bootstrap(
                feats, eval_sets, loss=loss, n=ec.demo_bootstraps, seed=seed,
                probe_args={"epochs": ic.probe_epochs, "lr": ic.probe_lr, "batch_size": ic.batch_size,
                            "weight_decay": ic.probe_weight_decay})


def pool_logprobs(ctx, size: str, policy: str) -> Path:
    """log π(continuation | prompt) under `size`'s RLHF or start policy, summed over the continuation's
    tokens, for the val and test pools (text_pool's order), in `eval.logprob_precision`: the stage folder with
    logprobs.npz.
    One stage per policy, so that 04 runs the four (size, policy) passes side by side."""
    folder = str(graph.require(ctx, "rlhf_policy", size=size)) if policy == "rlhf" else ctx.start(size)
    demos = artifacts.demos(ctx, size)
    precision = ctx.cfg.eval.logprob_precision
    vocab_block = ctx.cfg.eval.logprob_vocab_block

    def build(tmp: Path) -> None:
        ctx.log(f"[logprobs] {size}-{policy}: continuations of the val and test pools ({precision})")
        model, tok = models.load_policy(folder, ctx.cfg.device)
        if precision == "bf16":
            model.to(torch.bfloat16)
        if ctx.cfg.compile_forward:
            models.compile_blocks(model)
        tok.padding_side = "right"
        arrays = {}
        for split in ("val", "test"):
            rows = demos[demos.split == split]
            prompts = list(rows.prompt) * 3
            conts = list(rows.original_output) + list(rows.expert_text) + list(rows.start_text)  # text_pool's order
            arrays[f"{split}_logp"], arrays[f"{split}_tokens"] = implicit.continuation_logprobs(
                model, tok, prompts, conts, vocab_block=vocab_block, compiled=ctx.cfg.compile_forward)
        np.savez(tmp / "logprobs.npz", **arrays)

    return graph.build(ctx, "logprobs", build, upstream=[folder, graph.require(ctx, "demos", size=size)], size=size,
                       policy=policy)


def implicit_rewards(ctx, size: str) -> dict[str, np.ndarray]:
    """β·log π_RLHF/π_start on the val and test pools, summed (`val_sum`, …) and per token (`val_mean`, …)."""
    policy, reference = (np.load(pool_logprobs(ctx, size, p) / "logprobs.npz") for p in IMPLICIT_POLICIES)
    out = {}
    for split in ("val", "test"):
        r = implicit.implicit_reward(policy[f"{split}_logp"], reference[f"{split}_logp"], policy[f"{split}_tokens"],
                                     beta=ctx.cfg.rlhf_for(size).beta)
        out[f"{split}_sum"], out[f"{split}_mean"] = r["sum"], r["mean"]
    return out


def _implicit(ctx, size: str, eval_sets: dict) -> tuple[dict, dict]:
    """The implicit reward's metrics, both normalisations; and the summed one's values on the eval sets."""
    z = implicit_rewards(ctx, size)
    out, values = {}, {}
    for norm in ("sum", "mean"):
        # defined on (prompt, continuation); a comment is read as its human continuation, as every reward reads it
        values[norm] = {"val_pool": z[f"val_{norm}"], "test_pool": z[f"test_{norm}"],
                        "val_comments": z[f"val_{norm}"][:len(eval_sets["val_comments"])],
                        "test_comments": z[f"test_{norm}"][:len(eval_sets["test_comments"])]}
        out[norm] = evidence.score(eval_sets, values[norm])
    return out, values["sum"]


def run(ctx) -> dict:
    """Every reward model, the implicit DPO reward and the judges themselves, on test data only."""
    cfg = ctx.cfg
    out = {}
    in_parallel(ctx, [(f"{size}-{policy} log-probs", pool_logprobs, size, policy)
                      for size in largest_first(cfg) for policy in IMPLICIT_POLICIES])
    for spec in cfg.sizes:
        eval_sets = pools(artifacts.demos(ctx, spec.name), cfg)
        size_out = {"models": {}}
        for mode, loss in graph.models_of(cfg):
            history, seed_rewards = artifacts.reward_models(ctx, spec.name, mode, loss)
            size_out["models"][f"{mode}/{loss}"] = model_result(mode, loss, history, seed_rewards, eval_sets)
        size_out["selected"] = choose_model(cfg, size_out["models"])
        size_out["implicit"], implicit_r = _implicit(ctx, spec.name, eval_sets)
        size_out["random"], random_r = _random_reference(ctx, spec.name, eval_sets)
        size_out["judges"] = _judge_references(eval_sets)
        mode, loss = size_out["selected"].split("/")
        _, seed_rewards = artifacts.reward_models(ctx, spec.name, mode, loss)
        seed = list(seed_rewards["seeds"]).index(size_out["models"][size_out["selected"]]["selected_on_val"]["seed"])
        _evidence(ctx, spec.name, size_out, eval_sets,
                  {"irl": {k: seed_rewards[k][seed] for k in eval_sets}, "implicit": implicit_r, "random": random_r})
        if mode == "probe":  # the head in the raw feature space, comparable across replicates (cosine)
            probe = artifacts.probes(ctx, spec.name, loss)[seed]
            size_out["selected_reward"]["head"] = (probe.weight / probe.sigma).tolist()
        out[spec.name] = size_out
    store.write_result(ctx.layout.result("irl"), {"sizes": out}, cfg)
    return out
