"""05 · Re-alignment: RLHF again from the start checkpoint with the recovered, true and random rewards.

    reward = stages.realignment.reward_model(ctx, "tiny-a", "irl")   # the reward 05 trains with, to inspect
    reward.score(["you are an idiot", "thank you"])
    result = stages.realignment.run(ctx)                             # -> refinetune.json, refinetune_curves.csv

Every policy 05 trains leaves a record (`record`: its greedy and sampled texts' scores, perplexity, path, training
log) under the replicate's results, `realignment/<label>.json`, as it finishes. A record is reused while the
config, the code and the results of 01–04 it was trained from are this run's, so committed records let a
replicate's re-alignment resume on a machine that kept nothing of the run (01–04 are rebuilt there first), and
`run` reads records only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from irlkit import config, data, irl, metrics, provenance, rlhf, store
from irlkit.config import Config
from irlkit.rewards import NormalizedReward, ProbeReward, random_probe, selected_reward
from irlkit.stages import artifacts, graph
from irlkit.stages.context import in_parallel, largest_first
from irlkit.stages.policies import perplexity_of, policy_texts, toxicity_report, train_policy, true_policy


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


def label_of(cfg: Config, size: str, name: str, run: int) -> str:
    """The label (folder and record name) of 05's policy `(name, run)` of `size`: the true arm's is 01's unless 05
    trains it with a recipe of its own (`Config.realign_recipe_own`)."""
    return graph.policy_label(size, "true-realigned" if name == "true" and cfg.realign_recipe_own else name, run)


def policy(ctx, size: str, name: str, run: int, irl_result: dict) -> tuple[str, str, dict, dict | None]:
    """(label, folder, training summary, reward identity) of one policy of 05, trained unless it is finished."""
    if name == "true":
        return (label_of(ctx.cfg, size, name, run), *true_policy(ctx, size, run), None)
    label = label_of(ctx.cfg, size, name, run)
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


def from_01(cfg: Config, name: str, run: int) -> bool:
    """Whether 05's policy `(name, run)` is 01's (run 0 of the true arm where 05 trains with 01's recipe): its greedy
    texts and perplexity come from 01, and its training log is 01's, not 05's."""
    return (name, run) == ("true", 0) and not cfg.realign_recipe_own


RECORDED_INPUTS = ("sampling", "irl")
"""The results of 01–04 a record of 05 is trained from: the demonstrations (sampling.json) and the recovered rewards
(irl.json). Neither holds a wall time, so a machine that rebuilds 01–04 bit for bit reproduces them exactly."""


def _made_by(ctx) -> dict:
    """What a record of this run must have been made by: config, code, and the results of 01–04 it trained from."""
    inputs = {name: {k: v for k, v in store.read_json(ctx.layout.result(name)).items() if k != "_manifest"}
              for name in RECORDED_INPUTS}
    return {"config_hash": ctx.base_cfg.hash(), "code_hash": provenance.code_hash(), "inputs": config.stable_hash(inputs)}


def _reusable(ctx, path, label: str) -> dict | None:
    """The record at `path` when this run made it (`_made_by`), else None (and why, in the log)."""
    if not path.exists():
        return None
    rec, want = store.read_json(path), _made_by(ctx)
    stale = [k for k, v in want.items() if rec.get(k) != v]
    if not stale:
        return rec
    ctx.log(f"[realign] {label}: its record was made with another {', '.join(stale)}: made again")
    return None


def _scores(texts: pd.DataFrame) -> dict:
    """A text table's columns as lists (a record's `texts`)."""
    return {c: texts[c].tolist() for c in ("prompt_id", "text", "p_judge", "p_second")}


def record(ctx, size: str, name: str, run: int) -> dict:
    """05's record of policy `(name, run)` of `size` (`layout.realignment_record`): reused when this run made it,
    else the policy is trained (or its finished stage read), evaluated, and its record written. It holds the
    greedy continuations of the test prompts with both judges' scores, perplexity, each evaluation prompt's mean
    P(toxic) over its sampled continuations under each judge (the endpoint), the toxicity–KL path and the training log."""
    cfg = ctx.cfg
    label = label_of(cfg, size, name, run)
    path = ctx.layout.realignment_record(label)
    rec = _reusable(ctx, path, label)
    if rec is not None:
        return rec
    label, folder, summary, key = policy(ctx, size, name, run, store.read_json(ctx.layout.result("irl"))["sizes"])
    if from_01(cfg, name, run):  # 01's policy: its greedy texts and perplexity are 01's
        texts = artifacts.texts(ctx, label)
    else:
        texts = policy_texts(ctx, label, folder, prompts="test")
    sampled = endpoint_texts(ctx, label, folder)
    log = rlhf.read_log(folder) if (Path(folder) / "log.jsonl").exists() and not from_01(cfg, name, run) else None
    rec = {**_made_by(ctx), "policy": label, "size": size, "arm": name, "run": run, "seed": cfg.seed + run,
           "summary": summary, "reward_model": key, "texts": _scores(texts[texts.split == "test"]),
           "perplexity": perplexity_of(ctx, label, folder),
           "endpoint": {w: v.tolist() for w, v in endpoints(sampled).items()} if sampled is not None else None,
           "path": rlhf.read_path(folder) or None,
           "curve": log.to_dict("records") if log is not None else None}
    store.atomic_write_json(path, rec)
    return rec


def start_record(ctx, size: str) -> dict:
    """The start policy's record (as `record`, the same in every replicate): what every arm is compared with."""
    label = f"{size}-start"
    path = ctx.layout.realignment_record(label)
    rec = _reusable(ctx, path, label)
    if rec is not None:
        return rec
    texts = artifacts.texts(ctx, label, shared=True)
    sampled = endpoint_texts(ctx, label, ctx.start(size), shared=True)
    rec = {**_made_by(ctx), "policy": label, "size": size, "texts": _scores(texts[texts.split == "test"]),
           "perplexity": perplexity_of(ctx, label, ctx.start(size), shared=True),
           "endpoint": {w: v.tolist() for w, v in endpoints(sampled).items()} if sampled is not None else None}
    store.atomic_write_json(path, rec)
    return rec


def record_texts(rec: dict | str, ctx=None) -> pd.DataFrame:
    """A record's greedy test continuations as a table (prompt_id, text, p_judge, p_second); a policy's label with
    `ctx` reads its committed record."""
    rec = store.read_json(ctx.layout.realignment_record(rec)) if isinstance(rec, str) else rec
    return pd.DataFrame(rec["texts"])


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
    `refinetune.seeds` times (random: `random_heads` heads); all evaluated against the start and true policies.
    Every policy's record is made first (side by side, each written as it finishes); the report reads records only."""
    cfg = ctx.cfg
    irl_result = store.read_json(ctx.layout.result("irl"))["sizes"]
    in_parallel(ctx, [(f"{size} {name} run {run}", record, size, name, run)
                      for size in largest_first(cfg) for name, run in runs_of(cfg, size)]
                + [(f"{size} start", start_record, size) for size in largest_first(cfg)])
    out, curves = {}, []
    for spec in cfg.sizes:  # every record is now written: this reads them
        start = start_record(ctx, spec.name)
        before = record_texts(start)
        records = {(name, run_): record(ctx, spec.name, name, run_) for name, run_ in runs_of(cfg, spec.name)}
        true_texts = record_texts(records[("true", 0)])
        reports = {}
        for (name, run_), rec in records.items():
            texts = record_texts(rec)
            report = {"policy": rec["policy"], "seed": rec["seed"], **rec["summary"], **toxicity_report(ctx, before, texts),
                      "perplexity": rec["perplexity"], "_texts": texts, "_record": rec}
            if name != "true":
                report.update(reward_model=rec["reward_model"], vs_true=toxicity_report(ctx, true_texts, texts))
            if rec.get("curve"):
                curves.append(pd.DataFrame(rec["curve"]).assign(policy=rec["policy"]))
            reports.setdefault(name, []).append(report)
        size_out = {}
        for name, runs in reports.items():
            size_out[name] = {k: v for k, v in runs[0].items() if not k.startswith("_")}
            if len(runs) > 1:
                size_out[name]["runs"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]
                size_out[name]["across_runs"] = across_runs(ctx, before, [r["_texts"] for r in runs])
        size_out["start_perplexity"] = start["perplexity"]
        recs = {name: [r["_record"] for r in runs] for name, runs in reports.items()}
        if cfg.eval.endpoint_samples:
            _endpoint_report(ctx, start, size_out, recs)
        if cfg.eval.path_every:
            _path_report(ctx, size_out, recs)
        _reward_agreement(ctx, spec.name, size_out, irl_result)
        out[spec.name] = size_out
    table = (pd.concat(curves, ignore_index=True) if curves
             else pd.DataFrame(columns=["step", "reward", "kl", "policy"]))
    store.atomic_write_text(ctx.layout.table("refinetune_curves"), table.to_csv(index=False))
    store.write_result(ctx.layout.result("refinetune"), {"sizes": out}, cfg)
    return out


PRIMARY = {"irl_vs_true": "second", "irl_vs_random": "judge", "irl_vs_flipped": "judge"}
"""The judge each comparison reads first: the true arm trained on the ground-truth judge, so IRL against it is read
under the judge neither trained on; against the controls, the ground truth (both are always reported)."""


def _endpoint_report(ctx, start_rec: dict, size_out: dict, records: dict[str, list[dict]]) -> None:
    """The primary endpoint into `size_out`: per arm, the mean P(toxic) of sampled continuations of the evaluation
    prompts under each judge and its change from the start (relative to the start's mean), two-level bootstrap over
    the arm's runs and the prompts; and the arms against each other (`PRIMARY`), with IRL − true's equivalence
    within ±0.1 of the start's mean. `records`: {arm: each run's record}."""
    ec = ctx.cfg.eval
    kw = dict(n=ec.n_bootstrap, ci=ec.ci, seed=ec.bootstrap_seed)
    start = {w: np.asarray(v) for w, v in start_rec["endpoint"].items()}
    arms = {}
    for name, runs in records.items():
        arms[name] = {w: np.stack([np.asarray(r["endpoint"][w]) for r in runs]) for w in ("judge", "second")}
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


def _path_report(ctx, size_out: dict, records: dict[str, list[dict]]) -> None:
    """Each arm's toxicity–KL path (`eval.path_every`, `stages.policies.ValPath`) into `size_out`, and the arms
    compared at equal KL to the start: for each comparison of `PRIMARY`, every run's per-prompt P(toxic) on the val
    prompts read off its path where its KL first reaches the largest KL that every run of both arms reaches
    (`metrics.at_kl`), then the same two-level bootstrap as the endpoint (`metrics.arms_difference`)."""
    ec = ctx.cfg.eval
    kw = dict(n=ec.n_bootstrap, ci=ec.ci, seed=ec.bootstrap_seed)
    paths = {name: [r["path"] for r in runs] for name, runs in records.items()}
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
