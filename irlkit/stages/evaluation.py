"""04 · Evaluation: every reward model, the implicit DPO reward, a random head and the judges, on test.

    result = stages.evaluation.run(ctx)    # -> irl.json; result[size]["selected"] is the reward 05 uses
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from irlkit import data, evidence, implicit, irl, metrics, models, posterior, progress, store
from irlkit.rewards import random_probe
from irlkit.config import Config
from irlkit.stages import artifacts, graph
from irlkit.stages.context import in_parallel, largest_first
from irlkit.stages.policies import rlhf_folder

IMPLICIT_POLICIES = ("rlhf", "start")
"""The two policies whose log-ratio is the implicit reward: π_RLHF, π_start."""

def pools(demos: pd.DataFrame, cfg: Config) -> dict[str, pd.DataFrame]:
    """The four eval sets (`irl.EVAL_SETS`) as frames with the judges' scores and human labels; `test_*` are the
    split 04 reports on (`data.report_split`: the sealed set in the final replicates)."""
    test = data.report_split(cfg)
    return {"val_pool": irl.text_pool(demos, "val", cfg.irl.with_prompt),
            "test_pool": irl.text_pool(demos, test, cfg.irl.with_prompt),
            "val_comments": irl.comment_pool(demos, "val", cfg.irl.with_prompt),
            "test_comments": irl.comment_pool(demos, test, cfg.irl.with_prompt)}


def _standardise(rewards: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per seed, z-score with the reference (val) statistics: seeds' scales differ (max-margin has none)."""
    mu, sd = reference.mean(axis=1, keepdims=True), reference.std(axis=1, keepdims=True) + 1e-12
    return (rewards - mu) / sd


def model_result(mode: str, loss: str, history: pd.DataFrame, rewards: dict, eval_sets: dict) -> dict:
    """irl.json's entry of one (mode, loss): per-seed metrics and their spread, ensemble, seed agreement, and
    the seed selected on val: label-free, by the val demonstration pairs (`metrics.LABEL_FREE`, `selected_on_val`),
    with the seed the judge's val AUC would pick beside it as an oracle (`oracle_on_val`).
    `rewards[name]` is seeds × texts for each set; `history` has each seed's per-epoch val metrics."""
    per_seed = [evidence.evaluate_reward(*eval_sets.values(), {k: rewards[k][i] for k in eval_sets})
                for i in range(len(rewards["seeds"]))]
    ensemble_r = {k: _standardise(rewards[k], rewards["val_pool" if "pool" in k else "val_comments"]).mean(0)
                  for k in eval_sets}
    agreement = metrics.seed_agreement(rewards["test_pool"])
    shared = shared_texts(eval_sets)
    flats = [evidence.flat(r) for r in per_seed]
    final = [h.iloc[-1] for _, h in history.groupby("seed", sort=False)]
    selected, oracle = metrics.label_free_best(final), int(np.nanargmax([row.val_auc for row in final]))
    entry = lambda i: {"seed": int(rewards["seeds"][i]), **evidence.flat(per_seed[i]),  # noqa: E731
                       "confusion_judge": per_seed[i]["judge"]["confusion"],
                       "confusion_human": per_seed[i]["human"]["confusion"],
                       "shared_scores": store.rounded(rewards["test_pool"][i][shared])}
    return {
        "mode": mode, "loss": loss, "n_seeds": len(per_seed),
        **{k: metrics.spread([row[k] for row in final]) for k in (*metrics.LABEL_FREE, "val_auc")},
        "metrics": {m: metrics.spread([f[m] for f in flats]) for m in evidence.FLAT_METRICS},
        "ensemble": evidence.score(eval_sets, ensemble_r),
        "selected_on_val": entry(selected), "oracle_on_val": entry(oracle),
        "seed_agreement_mean": metrics.mean_off_diagonal(agreement),
        "seed_agreement": store.rounded(agreement, 4),
        # on the texts every replicate shares, as the cross-replicate agreement (06) reads them: like with like
        "seed_agreement_shared_mean": metrics.mean_off_diagonal(metrics.seed_agreement(rewards["test_pool"][:, shared])),
        "per_seed": flats,
    }


def shared_texts(eval_sets: dict) -> np.ndarray:
    """The test texts every replicate shares (human continuations and the start policy's, which no replicate's
    RLHF changes): where rewards of different replicates, and of one replicate's seeds, are compared."""
    return eval_sets["test_pool"].source.values != "expert"


def choose_model(cfg: Config, models_result: dict, oracle: bool = False) -> str:
    """The `mode/loss` whose reward 05 uses: `refinetune.loss`, or under `auto` the best by the label-free
    criterion (`metrics.LABEL_FREE`, mean over seeds, in order). `oracle`: the best mean val AUC against the
    judge instead, what a study that selects with ground truth would take (reported, never used)."""
    rc = cfg.refinetune
    candidates = {k: v for k, v in models_result.items() if v["mode"] == rc.mode}
    if oracle:
        return max(candidates, key=lambda k: candidates[k]["val_auc"]["mean"])
    if rc.loss != "auto":
        return f"{rc.mode}/{rc.loss}"
    names = list(candidates)
    return names[metrics.label_free_best([{k: candidates[n][k]["mean"] for k in metrics.LABEL_FREE} for n in names])]


def _random_reference(ctx, size: str, eval_sets: dict) -> dict:
    """05's random-reward control scored like a recovered reward: a random direction in the backbone's
    feature space need not be neutral, and this says how far it already agrees with the judge. Its head
    reads the probes' own cached features (`irl.feature_precision`), as the probe it is compared with does."""
    head = random_probe(artifacts.probes(ctx, size, ctx.cfg.irl.losses[0])[0], ctx.cfg.refinetune.random_seed)
    feats = artifacts.features(ctx, size)
    r = {k: head(feats[k]) for k in eval_sets}
    return evidence.score(eval_sets, r), r


def _source_only(eval_sets: dict) -> tuple[dict, dict]:
    """The reward that knows only who wrote a text: RLHF policy > start policy > human (`irl.SOURCES`' order
    reversed). What a recovered reward must beat to show it reads more than the author: on model-written texts
    it is "written by the RLHF policy"; within one source it is constant (AUC 0.5)."""
    rank = {"original": 0.0, "start": 1.0, "expert": 2.0}
    r = {k: (df.source.map(rank).values if "source" in df else np.zeros(len(df))) for k, df in eval_sets.items()}
    return evidence.score(eval_sets, r), r


def _null_band(ctx, size: str, eval_sets: dict) -> dict:
    """`eval.null_heads` random heads like 05's control (`rewards.random_probe`) on the same cached features:
    the 2.5–97.5% band of their test AUCs, pooled and within each source, which a recovered reward's AUC must
    leave to say more than a random direction of this backbone does."""
    template = artifacts.probes(ctx, size, ctx.cfg.irl.losses[0])[0]
    z = (artifacts.features(ctx, size)["test_pool"] - template.mu) / template.sigma
    rng = np.random.default_rng(ctx.cfg.refinetune.random_seed)
    n = ctx.cfg.eval.null_heads
    scores = z @ rng.normal(0, 1 / np.sqrt(z.shape[1]), size=(z.shape[1], n))
    test = eval_sets["test_pool"]
    toxic, source = metrics.is_toxic(test.p_judge.values), test.source.values
    out = {"n_heads": n}
    for name, mask in evidence.SOURCE_MASKS.items():
        m = mask(source)
        aucs = np.array([metrics.auc(scores[m, j], toxic[m]) for j in range(n)])
        aucs = aucs[~np.isnan(aucs)]  # none where these texts hold one class only
        out[name] = ({"q025": float(np.quantile(aucs, 0.025)), "q975": float(np.quantile(aucs, 0.975)),
                      "mean": float(aucs.mean())} if len(aucs) else {"q025": np.nan, "q975": np.nan, "mean": np.nan})
    return out


def _fit_probe(ctx, preferred: np.ndarray, other: np.ndarray, val_preferred: np.ndarray, val_other: np.ndarray,
               loss: str) -> irl.LinearProbe:
    """A probe fitted as 03 fits one (every seed of `irl.probe_seeds` on the pairs' features), its seed chosen
    label-free on the val pairs (`metrics.LABEL_FREE`)."""
    ic = ctx.cfg.irl
    return irl.fit_label_free(preferred, other, val_preferred, val_other, loss=loss,
                              seeds=[ctx.cfg.seed * 1000 + i for i in range(ic.probe_seeds)], epochs=ic.probe_epochs,
                              lr=ic.probe_lr, batch_size=ic.batch_size, weight_decay=ic.probe_weight_decay)


def _halves(ctx, size: str, eval_sets: dict) -> dict:
    """The same RLHF run, new demonstrations: for every probe loss, the training pairs split in two disjoint halves
    at random, each half fitted as 03 fits all of them (every seed, the seed chosen label-free on the val pairs),
    and the two rewards' Spearman ρ on the shared test texts. What agreement independent demonstrations of one
    run reach, beside independent runs' (06), at half the data."""
    feats = artifacts.features(ctx, size)
    n = len(feats["train_expert"])
    order = np.random.default_rng(ctx.cfg.seed).permutation(n)
    source, shared = eval_sets["val_pool"].source.values, shared_texts(eval_sets)
    val_e, val_s = feats["val_pool"][source == "expert"], feats["val_pool"][source == "start"]
    out = {"n_pairs_each": n // 2}
    for loss in ctx.cfg.irl.losses:
        scores = [_fit_probe(ctx, feats["train_expert"][half], feats["train_start"][half], val_e, val_s, loss)(
            feats["test_pool"][shared]) for half in (order[: n // 2], order[n // 2: 2 * (n // 2)])]
        out[f"probe/{loss}"] = float(metrics.seed_agreement(np.array(scores))[0, 1])
    return out


def _judge_oriented(ctx, size: str, loss: str, eval_sets: dict) -> dict:
    """What these texts allow: the cached training pairs re-oriented by the judge (the less toxic side as the
    preferred one; ties dropped) and fitted with the selected method (probe, `loss`, every seed, the seed chosen
    by the re-oriented val pairs). An upper bound of IRL given the demonstrations' texts, with the judge's labels
    in its fit: a reference, never the recovered reward."""
    demos, feats = artifacts.demos(ctx, size), artifacts.features(ctx, size)

    def oriented(split: str, expert: np.ndarray, start: np.ndarray):
        d = demos[demos.split == split]
        e, s = d.expert_text_judge.values, d.start_text_judge.values
        keep, flip = ~np.isclose(e, s), s < e
        chosen, rejected = np.where(flip[:, None], start, expert), np.where(flip[:, None], expert, start)
        return chosen[keep], rejected[keep]

    chosen, rejected = oriented("train", feats["train_expert"], feats["train_start"])
    val = feats["val_pool"]
    source = eval_sets["val_pool"].source.values
    val_chosen, val_rejected = oriented("val", val[source == "expert"], val[source == "start"])
    if len(chosen) < 2:
        return {"n_pairs": int(len(chosen))}
    with progress.phase(f"[eval] {size}: probes on the judge-oriented pairs ({len(chosen)})"):
        best = _fit_probe(ctx, chosen, rejected, val_chosen, val_rejected, loss)
    return {"fit": f"probe/{loss} on the training pairs re-oriented by the judge, ties dropped; seed by the re-oriented val pairs",
            "n_pairs": int(len(chosen)), **evidence.score(eval_sets, {k: best(feats[k]) for k in eval_sets})}


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
    """Intervals over test prompts for the label-free IRL reward, the oracle-selected one, the implicit reward,
    the random head and the source-only reward, the IRL reward's paired comparisons with each, and the
    supervised ceiling on the same features (into `size_out`)."""
    ec = ctx.cfg.eval
    with progress.phase(f"[eval] {size}: intervals over test prompts ({ec.n_bootstrap} resamples)"):
        cis = evidence.prompt_bootstrap(rewards_by_name, eval_sets, n=ec.n_bootstrap, ci=ec.ci, seed=ec.bootstrap_seed)
    size_out["selected_reward"] = {"model": size_out["selected"], "selection": "label-free: " + ", ".join(metrics.LABEL_FREE),
                                   **evidence.flat_with_ci(cis["irl"])}
    size_out["oracle_reward"] = {"model": size_out["oracle_selected"], "selection": "oracle: val AUC against the judge",
                                 **evidence.flat_with_ci(cis["oracle"])}
    size_out["implicit"]["sum"].update(evidence.flat_with_ci(cis["implicit"]))
    size_out["random"].update(evidence.flat_with_ci(cis["random"]))
    size_out["source_only"].update(evidence.flat_with_ci(cis["source_only"]))
    size_out["comparisons"] = {f"irl_vs_{other}": evidence.compare(cis, "irl", other, ec.ci)
                               for other in ("implicit", "random", "source_only", "oracle")}
    size_out["selected_reward"]["shared_scores"] = store.rounded(rewards_by_name["irl"]["test_pool"][shared_texts(eval_sets)])
    demos = artifacts.demos(ctx, size)
    train = demos[demos.split == "train"]
    toxic = metrics.is_toxic(np.concatenate([train.expert_text_judge.values, train.start_text_judge.values]))
    feats = artifacts.features(ctx, size)
    with progress.phase(f"[eval] {size}: supervised ceiling"):
        c, grid, r = evidence.ceiling(feats, toxic, eval_sets["val_pool"])
    if r is not None:
        size_out["ceiling"] = {"fit": "logistic regression on the train texts' judge labels, C chosen on val",
                               "C": c, "C_grid": list(grid), "C_interior": grid[0] < c < grid[-1],
                               **evidence.score(eval_sets, r)}
        size_out["share_of_ceiling"] = {  # as excess over chance: (AUC − 0.5) / (ceiling − 0.5)
            m: evidence.excess_share(size_out["selected_reward"][m], size_out["ceiling"][m]) for m in ("auc", "auc_model_text")}
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
    folder = rlhf_folder(ctx, size) if policy == "rlhf" else ctx.start(size)
    demos = artifacts.demos(ctx, size)
    precision = ctx.cfg.eval.logprob_precision
    vocab_block = ctx.cfg.eval.logprob_vocab_block

    def build(tmp: Path) -> None:
        ctx.log(f"[logprobs] {size}-{policy}: continuations of the val and test pools ({precision})")
        model, tok = models.load_scorer(folder, ctx.cfg.device, precision, ctx.cfg.compile_forward)
        arrays = {}
        for split, rows_of in (("val", "val"), ("test", data.report_split(ctx.cfg))):
            rows = demos[demos.split == rows_of]
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
        size_out["selected"] = choose_model(cfg, size_out["models"])  # label-free
        size_out["oracle_selected"] = choose_model(cfg, size_out["models"], oracle=True)  # the judge's pick: reported only
        size_out["implicit"], implicit_r = _implicit(ctx, spec.name, eval_sets)
        size_out["random"], random_r = _random_reference(ctx, spec.name, eval_sets)
        size_out["source_only"], source_r = _source_only(eval_sets)
        size_out["null_band"] = _null_band(ctx, spec.name, eval_sets)
        size_out["judges"] = _judge_references(eval_sets)
        chosen = {}
        for name, model, which in (("irl", size_out["selected"], "selected_on_val"),
                                   ("oracle", size_out["oracle_selected"], "oracle_on_val")):
            _, seed_rewards = artifacts.reward_models(ctx, spec.name, *model.split("/"))
            i = list(seed_rewards["seeds"]).index(size_out["models"][model][which]["seed"])
            chosen[name] = ({k: seed_rewards[k][i] for k in eval_sets}, i)
        _evidence(ctx, spec.name, size_out, eval_sets, {"irl": chosen["irl"][0], "oracle": chosen["oracle"][0],
                                                        "implicit": implicit_r, "random": random_r,
                                                        "source_only": source_r})
        mode, loss = size_out["selected"].split("/")
        if mode == "probe":  # the head in the standardised feature basis, comparable across replicates (cosine)
            size_out["selected_reward"]["head"] = artifacts.probes(ctx, spec.name, loss)[chosen["irl"][1]].weight.tolist()
            size_out["judge_oriented"] = _judge_oriented(ctx, spec.name, loss, eval_sets)
        if "probe" in cfg.irl.modes:
            with progress.phase(f"[eval] {spec.name}: probes on two disjoint halves of the demonstrations"):
                size_out["halves"] = _halves(ctx, spec.name, eval_sets)
        size_out["shared_p_judge"] = eval_sets["test_pool"].p_judge.values[shared_texts(eval_sets)].tolist()
        out[spec.name] = size_out
    store.write_result(ctx.layout.result("irl"), {"sizes": out}, cfg)
    return out
