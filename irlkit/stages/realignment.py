"""05 · Re-alignment: RLHF again from the start checkpoint with the recovered, true and random rewards.

    reward = stages.realignment.reward_model(ctx, "tiny-a", "irl")   # the reward 05 trains with, to inspect
    reward.score(["you are an idiot", "thank you"])
    result = stages.realignment.run(ctx)                             # -> refinetune.json, refinetune_curves.csv
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from irlkit import data, irl, metrics, rlhf, store
from irlkit.config import Config
from irlkit.rewards import NormalizedReward, ProbeReward, random_probe, selected_reward
from irlkit.stages import artifacts, graph
from irlkit.stages.context import in_parallel, largest_first
from irlkit.stages.policies import (perplexity_of, policy_texts, rlhf_policy, toxicity_report, train_policy,
                                    write_curves)


def selected_reward_info(ctx, size: str, irl_result: dict) -> dict:
    """Which reward model 05 trains with: the chosen (mode, loss) and its seed with the best val AUC, or
    `ensemble` (`refinetune.reward`): the `irl_policy` stage's `reward` param."""
    mode, loss = irl_result[size]["selected"].split("/")
    if mode == "full":
        seed = store.read_json(artifacts.reward_model_folder(ctx, size, mode, loss) / "info.json")["best_seed"]
    elif ctx.cfg.refinetune.reward == "ensemble":
        seed = "ensemble"
    else:
        seed = irl_result[size]["models"][f"{mode}/{loss}"]["selected_on_val"]["seed"]
    return {"mode": mode, "loss": loss, "seed": seed, "from_size": size}


def _val_texts(ctx, size: str) -> list[str]:
    return list(irl.text_pool(artifacts.demos(ctx, size), "val", ctx.cfg.irl.with_prompt).input)


def _learned(ctx, size: str, info: dict):
    """The reward model `info` names (`selected_reward_info`), on its own scale."""
    ic = ctx.cfg.irl
    return selected_reward(artifacts.reward_model_folder(ctx, info["from_size"], info["mode"], info["loss"]), info["mode"],
                           info["seed"], ctx.start(info["from_size"]), max_length=ic.max_length, pooling=ic.probe_pooling,
                           precision=ic.feature_precision, device=ctx.cfg.device)


def flipped_loss(ctx, size: str, irl_result: dict) -> str:
    """The probe loss of the flipped arm: the selected reward's, or the first probe loss when full mode was selected."""
    mode, loss = irl_result[size]["selected"].split("/")
    return loss if mode == "probe" else ctx.cfg.irl.losses[0]


def _flipped_probe(ctx, size: str, run: int, irl_result: dict) -> irl.LinearProbe:
    """The IRL reward's null: the probe 03 would fit (the selected loss, every seed, the seed chosen label-free)
    had the demonstrations no preference, i.e. each training and val pair's orientation flipped with probability ½
    (drawn by `refinetune.random_seed + run`). It learns what tells the two policies' texts apart, without a
    direction: what re-alignment gains from IRL beyond that is the goal's."""
    ic = ctx.cfg.irl
    feats = artifacts.features(ctx, size)
    source = irl.text_pool(artifacts.demos(ctx, size), "val", ic.with_prompt).source.values
    rng = np.random.default_rng(ctx.cfg.refinetune.random_seed + run)

    def flip(expert, start):
        swap = rng.random(len(expert)) < 0.5
        return np.where(swap[:, None], start, expert), np.where(swap[:, None], expert, start)

    train, val = flip(feats["train_expert"], feats["train_start"]), flip(feats["val_pool"][source == "expert"],
                                                                          feats["val_pool"][source == "start"])
    return irl.fit_label_free(*train, *val, loss=flipped_loss(ctx, size, irl_result),
                              seeds=[ctx.cfg.seed * 1000 + i for i in range(ic.probe_seeds)], epochs=ic.probe_epochs,
                              lr=ic.probe_lr, batch_size=ic.batch_size, weight_decay=ic.probe_weight_decay)


def _random_probe(ctx, size: str, run: int) -> irl.LinearProbe:
    """The control: an untrained head (`refinetune.random_seed + run`) on the first loss's probes' standardisation."""
    return random_probe(artifacts.probes(ctx, size, ctx.cfg.irl.losses[0])[0], ctx.cfg.refinetune.random_seed + run)


def _on_features(ctx, size: str, probe: irl.LinearProbe) -> ProbeReward:
    ic = ctx.cfg.irl
    return ProbeReward(ctx.start(size), probe, ic.max_length, ctx.cfg.device, ic.probe_pooling, ic.feature_precision)


def reward_model(ctx, size: str, name: str, run: int = 0, irl_result: dict | None = None) -> NormalizedReward:
    """The reward RLOO of `size` trains with under arm `name` (`irl`, `flipped`, `random`, `transfer_from_<size>`):
    z-scored on `size`'s val texts and scaled by `refinetune.reward_scale`, the scale RLOO sees."""
    if name == "random":
        model = _on_features(ctx, size, _random_probe(ctx, size, run))
    elif name == "flipped":
        model = _on_features(ctx, size, _flipped_probe(ctx, size, run, irl_result or store.read_json(ctx.layout.result("irl"))["sizes"]))
    else:
        irl_result = irl_result or store.read_json(ctx.layout.result("irl"))["sizes"]
        model = _learned(ctx, size, selected_reward_info(ctx, size if name == "irl" else name.removeprefix("transfer_from_"),
                                                         irl_result))
    return NormalizedReward(model, _val_texts(ctx, size), ctx.cfg.refinetune.reward_scale)


def example_texts(ctx, size: str, n: int = 3) -> pd.DataFrame:
    """A few test continuations of each source (human, RLHF, start) with the judge's P(toxic), the most
    and least toxic of each: what a reward is shown before it trains a policy."""
    pool = irl.text_pool(artifacts.demos(ctx, size), "test", ctx.cfg.irl.with_prompt)
    picked = [g.sort_values("p_judge").iloc[list(range(n)) + list(range(-n, 0))] for _, g in pool.groupby("source")]
    return pd.concat(picked)[["source", "input", "p_judge"]].drop_duplicates().reset_index(drop=True)


def runs_of(cfg: Config, size: str) -> list[tuple[str, int]]:
    """(reward, run) of every policy 05 compares for `size`: `true` (run 0 is 01's policy), `irl`, `flipped` (with
    `refinetune.flipped`), `random` (run = which random head): each `cfg.refinetune_seeds(size)` runs, random at least
    `refinetune.random_heads`; and `transfer_from_<other size>`, one run."""
    rc, seeds = cfg.refinetune, cfg.refinetune_seeds(size)
    runs = {"true": seeds, "irl": seeds, **({"flipped": seeds} if rc.flipped else {}), "random": max(seeds, rc.random_heads)}
    if rc.transfer:
        runs.update({f"transfer_from_{other.name}": 1 for other in cfg.sizes if other.name != size})
    return [(name, run) for name, n in runs.items() for run in range(n)]


def policy(ctx, size: str, name: str, run: int, irl_result: dict) -> tuple[str, str, dict, dict | None]:
    """(label, folder, training summary, reward identity) of one policy of 05, trained unless it is finished."""
    label = graph.policy_label(size, name, run)
    if name == "true":
        return (label, *rlhf_policy(ctx, size, run), None)
    demos = graph.require(ctx, "demos", size=size)
    scale, precision = ctx.cfg.refinetune.reward_scale, ctx.cfg.irl.feature_precision
    make_reward = lambda: rlhf.reward_function(reward_model(ctx, size, name, run, irl_result), name)  # noqa: E731
    if name == "random":
        model = artifacts.reward_model_folder(ctx, size, "probe", ctx.cfg.irl.losses[0])  # its standardisation
        folder, summary = train_policy(ctx, "random_policy", make_reward, [model, demos], size=size, run=run)
        return label, folder, summary, {"mode": "probe", "random_seed": ctx.cfg.refinetune.random_seed + run,
                                        "scale": scale, "standardisation": graph.identity(model), "precision": precision}
    if name == "flipped":
        features = graph.require(ctx, "features", size=size)
        info = {"mode": "probe", "loss": flipped_loss(ctx, size, irl_result), "flip_seed": ctx.cfg.refinetune.random_seed + run,
                "from_size": size}
        folder, summary = train_policy(ctx, "irl_policy", make_reward, [features, demos, ctx.start(size)], size=size,
                                       arm=name, run=run, reward=info)
        return label, folder, summary, {**info, "scale": scale, "features": graph.identity(features), "precision": precision}
    info = selected_reward_info(ctx, size if name == "irl" else name.removeprefix("transfer_from_"), irl_result)
    model = artifacts.reward_model_folder(ctx, info["from_size"], info["mode"], info["loss"])
    folder, summary = train_policy(ctx, "irl_policy", make_reward, [model, demos, ctx.start(info["from_size"])],
                                   size=size, arm=name, run=run, reward=info)
    return label, folder, summary, {**info, "scale": scale, "model": graph.identity(model),
                                    **({"precision": precision} if info["mode"] == "probe" else {})}


def _policy_evaluated(ctx, size: str, name: str, run: int) -> None:
    label, folder, _, _ = policy(ctx, size, name, run, store.read_json(ctx.layout.result("irl"))["sizes"])
    if (name, run) != ("true", 0):  # 01's policy has its greedy texts and perplexity from 01
        policy_texts(ctx, label, folder, prompts="test")
        perplexity_of(ctx, label, folder)
    endpoint_texts(ctx, label, folder)


def endpoint_texts(ctx, label: str, folder: str, shared: bool = False) -> pd.DataFrame | None:
    """The endpoint's texts of one policy: `eval.endpoint_samples` sampled continuations of every evaluation prompt
    (val, test and, in the final replicates, the sealed set: about 1,100 prompts in the cpu profile), scored by both
    judges; None when the endpoint is off."""
    k = ctx.cfg.eval.endpoint_samples
    return policy_texts(ctx, label, folder, prompts="evaluation", shared=shared, samples=k) if k else None


def endpoints(texts: pd.DataFrame) -> dict[str, np.ndarray]:
    """{judge: each evaluation prompt's mean P(toxic)} (`metrics.endpoint`, prompts in sorted order)."""
    return {which: metrics.endpoint(texts[f"p_{which}"].values, texts.prompt_id.values)[1] for which in ("judge", "second")}


def run(ctx) -> dict:
    """Per size: RLHF with the IRL reward, random rewards, and the other sizes' IRL rewards, each
    `refinetune.seeds` times (random: `random_heads` heads); all evaluated against the start and true policies."""
    cfg = ctx.cfg
    irl_result = store.read_json(ctx.layout.result("irl"))["sizes"]
    test = lambda df: df[df.split == "test"]  # noqa: E731
    in_parallel(ctx, [(f"{size} {name} run {run}", _policy_evaluated, size, name, run)
                      for size in largest_first(cfg) for name, run in runs_of(cfg, size)]
                + [(f"{size} start endpoint", _start_endpoint, size) for size in largest_first(cfg)])
    out, trained = {}, {}
    for spec in cfg.sizes:  # every policy is now trained and evaluated: this reads them
        before = test(artifacts.texts(ctx, f"{spec.name}-start", shared=True))
        true_texts = test(artifacts.texts(ctx, graph.policy_label(spec.name, "true")))
        reports = {}
        for name, run_ in runs_of(cfg, spec.name):
            label, folder, summary, key = policy(ctx, spec.name, name, run_, irl_result)
            texts = true_texts if (name, run_) == ("true", 0) else policy_texts(ctx, label, folder, prompts="test")
            report = {"policy": label, "seed": cfg.seed + run_, **summary, **toxicity_report(ctx, before, texts),
                      "perplexity": perplexity_of(ctx, label, folder), "_texts": texts, "_folder": folder}
            if name != "true":
                report.update(reward_model=key, vs_true=toxicity_report(ctx, true_texts, texts))
            if (name, run_) != ("true", 0):
                trained[label] = folder
            reports.setdefault(name, []).append(report)
        size_out = {}
        for name, runs in reports.items():
            size_out[name] = {k: v for k, v in runs[0].items() if not k.startswith("_")}
            if len(runs) > 1:
                size_out[name]["runs"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]
                size_out[name]["across_runs"] = across_runs(ctx, before, [r["_texts"] for r in runs])
        size_out["start_perplexity"] = perplexity_of(ctx, f"{spec.name}-start", ctx.start(spec.name), shared=True)
        folders = {name: [(r["policy"], r["_folder"]) for r in runs] for name, runs in reports.items()}
        if cfg.eval.endpoint_samples:
            _endpoint_report(ctx, spec.name, size_out, folders)
        if cfg.eval.path_every:
            _path_report(ctx, size_out, folders)
        _reward_agreement(ctx, spec.name, size_out, irl_result)
        out[spec.name] = size_out
    write_curves(ctx, "refinetune_curves", trained)
    store.write_result(ctx.layout.result("refinetune"), {"sizes": out}, cfg)
    return out


def _start_endpoint(ctx, size: str) -> None:
    endpoint_texts(ctx, f"{size}-start", ctx.start(size), shared=True)


PRIMARY = {"irl_vs_true": "second", "irl_vs_random": "judge", "irl_vs_flipped": "judge"}
"""The judge each comparison reads first: the true arm trained on the ground-truth judge, so IRL against it is read
under the judge neither trained on; against the controls, the ground truth (both are always reported)."""


def _endpoint_report(ctx, size: str, size_out: dict, policies: dict[str, list[tuple[str, str]]]) -> None:
    """The primary endpoint into `size_out`: per arm, the mean P(toxic) of sampled continuations of the evaluation
    prompts under each judge and its change from the start (relative to the start's mean), two-level bootstrap over
    the arm's runs and the prompts; and the arms against each other (`PRIMARY`), with IRL − true's equivalence
    within ±0.1 of the start's mean."""
    ec = ctx.cfg.eval
    kw = dict(n=ec.n_bootstrap, ci=ec.ci, seed=ec.bootstrap_seed)
    start = endpoints(endpoint_texts(ctx, f"{size}-start", ctx.start(size), shared=True))
    arms = {}
    for name, runs in policies.items():  # {arm: [(label, folder) of each run]}
        per_run = [endpoints(endpoint_texts(ctx, label, folder)) for label, folder in runs]
        arms[name] = {w: np.stack([r[w] for r in per_run]) for w in ("judge", "second")}
        size_out[name]["endpoint"] = {w: {"name": ctx.cfg.judge if w == "judge" else ctx.cfg.second_judge,
                                          "mean": float(arms[name][w].mean()), "start_mean": float(start[w].mean()),
                                          "run_means": arms[name][w].mean(axis=1).tolist(),
                                          "vs_start": metrics.arms_difference(start[w][None], arms[name][w], base=start[w], **kw)}
                                      for w in ("judge", "second")}
    size_out["endpoint_comparisons"] = {
        f"irl_vs_{other}": {"primary": PRIMARY[f"irl_vs_{other}"], **{
            w: metrics.arms_difference(arms[other][w], arms["irl"][w], base=start[w], **kw) for w in ("judge", "second")}}
        for other in ("true", "random", "flipped") if other in arms and "irl" in arms}
    size_out["endpoint_prompts"] = int(len(start["judge"]))


def _path_report(ctx, size_out: dict, policies: dict[str, list[tuple[str, str]]]) -> None:
    """Each arm's toxicity–KL path (`eval.path_every`, `stages.policies.ValPath`) into `size_out`, and the arms
    compared at equal KL to the start: for each comparison of `PRIMARY`, every run's per-prompt P(toxic) on the val
    prompts read off its path where its KL first reaches the largest KL that every run of both arms reaches
    (`metrics.at_kl`), then the same two-level bootstrap as the endpoint (`metrics.arms_difference`)."""
    ec = ctx.cfg.eval
    kw = dict(n=ec.n_bootstrap, ci=ec.ci, seed=ec.bootstrap_seed)
    paths = {name: [rlhf.read_path(folder) for _, folder in runs] for name, runs in policies.items()}
    paths = {name: runs for name, runs in paths.items() if runs and all(runs)}  # (an already-aligned policy has none)
    for name, runs in paths.items():
        size_out[name]["path"] = [[{k: p[k] for k in ("step", "kl", "kl_se", "toxicity")} for p in run] for run in runs]
    if "irl" not in paths:
        return
    start = {w: np.asarray(paths["irl"][0][0]["per_prompt"][w]) for w in ("judge", "second")}  # every run's step 0
    matched = {}
    for other in (o for o in ("true", "random", "flipped") if o in paths):
        runs = {arm: paths[arm] for arm in ("irl", other)}
        kl = min(max(p["kl"] for p in run) for arm_runs in runs.values() for run in arm_runs)
        at = {arm: [metrics.at_kl(run, kl) for run in arm_runs] for arm, arm_runs in runs.items()}
        matched[f"irl_vs_{other}"] = {
            "primary": PRIMARY[f"irl_vs_{other}"], "kl": float(kl),
            "steps": {arm: [a["step"] for a in at[arm]] for arm in at},
            **{w: {**metrics.arms_difference(np.stack([a[w] for a in at[other]]), np.stack([a[w] for a in at["irl"]]),
                                             base=start[w], **kw),
                   "means": {arm: float(np.mean([a[w] for a in at[arm]])) for arm in at}} for w in ("judge", "second")}}
    size_out["matched_kl"] = matched
    size_out["path_prompts"] = int(len(start["judge"]))


def _reward_agreement(ctx, size: str, size_out: dict, irl_result: dict) -> None:
    """For every run of a probe reward (IRL when probe mode is selected, flipped, random): its label-free agreement
    with the demonstrations (share of val pairs it orders as they are) and its ROC-AUC against the judge on the
    report split's texts, pooled and model-written, from the cached features; 06 draws each run's toxicity change
    against them (the dose–response). Evaluation only: the judge chooses nothing here."""
    from irlkit import evidence

    feats = artifacts.features(ctx, size)
    demos = artifacts.demos(ctx, size)
    val_source = irl.text_pool(demos, "val", ctx.cfg.irl.with_prompt).source.values
    test = irl.text_pool(demos, data.report_split(ctx.cfg), ctx.cfg.irl.with_prompt)
    toxic, source = metrics.is_toxic(test.p_judge.values), test.source.values

    def agreement(probe) -> dict:
        val, r = probe(feats["val_pool"]), probe(feats["test_pool"])
        return {"val_pair_accuracy": metrics.pairwise_accuracy(val[val_source == "expert"], val[val_source == "start"]),
                **{name: metrics.auc(r[mask(source)], toxic[mask(source)])
                   for name, mask in evidence.SOURCE_MASKS.items() if name in ("auc", "auc_model_text")}}

    mode, loss = irl_result[size]["selected"].split("/")
    heads = {"random": lambda run: _random_probe(ctx, size, run),
             "flipped": lambda run: _flipped_probe(ctx, size, run, irl_result)}
    if mode == "probe" and ctx.cfg.refinetune.reward == "best_val":  # (an ensemble is no one probe of 03's)
        seed = irl_result[size]["models"][f"probe/{loss}"]["selected_on_val"]["seed"]
        seeds = list(artifacts.reward_models(ctx, size, "probe", loss)[1]["seeds"])
        heads["irl"] = lambda run: artifacts.probes(ctx, size, loss)[seeds.index(seed)] if seed in seeds else None
    for name, make in heads.items():
        if name not in size_out:
            continue
        runs = size_out[name].get("runs", [size_out[name]])
        probes = [make(r["seed"] - ctx.cfg.seed) for r in runs]
        if all(p is not None for p in probes):
            size_out[name]["reward_agreement"] = [agreement(p) for p in probes]


def across_runs(ctx, before: pd.DataFrame, afters: list[pd.DataFrame]) -> dict:
    """Both judges: the toxicity-ratio change from the start policy over several RLOO runs of one reward."""
    ec = ctx.cfg.eval
    out = {}
    for which, name in (("judge", ctx.cfg.judge), ("second", ctx.cfg.second_judge)):
        b = before.set_index("prompt_id")[f"p_{which}"]
        after_runs = [metrics.is_toxic(a.set_index("prompt_id")[f"p_{which}"].loc[b.index]).astype(float) for a in afters]
        start_flags = metrics.is_toxic(b.values).astype(float)
        diff = metrics.runs_difference(start_flags, after_runs, n=ec.n_bootstrap, ci=ec.ci, seed=ec.bootstrap_seed)
        start_ratio = float(start_flags.mean())
        out[which] = {"name": name, "start_ratio": start_ratio, "ratio_diff": diff,
                      "ratio_relative_change": diff["diff"] / start_ratio if start_ratio > 0 else float("nan")}
    return out
