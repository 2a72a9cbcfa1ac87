"""05 · Re-alignment: RLHF again from the start checkpoint with the recovered, true and random rewards.

    reward = stages.refinetune.reward_model(ctx, "tiny-a", "irl")   # the reward 05 trains with, to inspect
    reward.score(["you are an idiot", "thank you"])
    result = stages.refinetune.run(ctx)                             # -> refinetune.json, refinetune_curves.csv
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from irlkit import data, irl, metrics, rlhf, store
from irlkit.config import Config
from irlkit.rewards import FullReward, NormalizedReward, ProbeReward, mean_head, random_head
from irlkit.stages import demos as demos_stage
from irlkit.stages import in_parallel, largest_first
from irlkit.stages.policies import (perplexity_of, policy_texts, start_folder, toxicity_report, train_policy,
                                    write_curves)
from irlkit.stages.rlhf import rlhf_policy, rlhf_texts, start_perplexity, start_texts, true_reward


def selected_reward_info(ctx, size: str, irl_result: dict) -> dict:
    """Which reward model 05 trains with: the chosen (mode, loss) and its seed with the best val AUC, or
    `ensemble` (`refinetune.reward`); this is the reward's identity in the policies' stage keys."""
    mode, loss = irl_result[size]["selected"].split("/")
    if mode == "full":
        seed = store.read_json(ctx.layout.irl_model(size, mode, loss) / "info.json")["best_seed"]
    elif ctx.cfg.refinetune.reward == "ensemble":
        seed = "ensemble"
    else:
        seed = irl_result[size]["models"][f"{mode}/{loss}"]["selected_on_val"]["seed"]
    return {"mode": mode, "loss": loss, "seed": seed, "from_size": size}


def selected_reward(ctx, info: dict):
    """The reward model that `selected_reward_info` names, on its own scale."""
    size, ic = info["from_size"], ctx.cfg.irl
    path = ctx.layout.irl_model(size, info["mode"], info["loss"])
    if info["mode"] == "full":
        return FullReward(str(path / "best"), ic.max_length, ctx.cfg.device)
    probes = irl.load_probes(path / "probes.npz")
    if info["seed"] == "ensemble":
        probe = mean_head(probes)
    else:
        probe = probes[list(np.load(path / "rewards.npz")["seeds"]).index(info["seed"])]
    return ProbeReward(start_folder(ctx, size), probe, ic.max_length, ctx.cfg.device, ic.probe_pooling,
                       ic.feature_precision)


def random_probe(ctx, size: str, run: int = 0) -> irl.LinearProbe:
    """The control's head: untrained, drawn with `refinetune.random_seed + run`, on the probes' feature
    standardisation."""
    path = standardisation_source(ctx, size)
    return random_head(irl.load_probes(path / "probes.npz")[0], ctx.cfg.refinetune.random_seed + run)


def standardisation_source(ctx, size: str):
    """The IRL model whose feature standardisation the random control uses: any probe of `size` has the
    same one, so the first loss's."""
    return ctx.layout.irl_model(size, "probe", ctx.cfg.irl.losses[0])


def random_reward(ctx, size: str, run: int = 0) -> ProbeReward:
    """The control: the same architecture as a probe reward with the untrained head `random_probe`."""
    ic = ctx.cfg.irl
    return ProbeReward(start_folder(ctx, size), random_probe(ctx, size, run), ic.max_length, ctx.cfg.device,
                       ic.probe_pooling, ic.feature_precision)


def normalized(ctx, size: str, model) -> NormalizedReward:
    """`model` z-scored on `size`'s val texts and scaled by `refinetune.reward_scale`: the scale RLOO sees."""
    demos = demos_stage.load(ctx, size)
    return NormalizedReward(model, list(irl.text_pool(demos, "val", ctx.cfg.irl.with_prompt).input),
                            ctx.cfg.refinetune.reward_scale)


def reward_model(ctx, size: str, name: str, run: int = 0, irl_result: dict | None = None):
    """The reward RLOO of `size` trains with under arm `name` (`irl`, `random`, `transfer_from_<size>`):
    learned rewards z-scored on `size`'s val texts and scaled (`normalized`)."""
    if name == "random":
        return normalized(ctx, size, random_reward(ctx, size, run))
    irl_result = irl_result or store.read_json(ctx.layout.result("irl"))["sizes"]
    info = selected_reward_info(ctx, size if name == "irl" else name.removeprefix("transfer_from_"), irl_result)
    return normalized(ctx, size, selected_reward(ctx, info))


def reward_key(ctx, size: str, name: str, run: int, irl_result: dict) -> dict:
    """The identity of `reward_model(ctx, size, name, run)` in the policy's stage key: the reward model's
    own stage (a retrained IRL model retrains the policy), its scale, and the precision a probe scores in."""
    ic, scale = ctx.cfg.irl, ctx.cfg.refinetune.reward_scale
    if name == "random":
        return {"mode": "probe", "random_seed": ctx.cfg.refinetune.random_seed + run, "scale": scale,
                "standardisation": store.key_of(standardisation_source(ctx, size)),
                "precision": ic.feature_precision}
    info = selected_reward_info(ctx, size if name == "irl" else name.removeprefix("transfer_from_"), irl_result)
    model = store.key_of(ctx.layout.irl_model(info["from_size"], info["mode"], info["loss"]))
    return {**info, "scale": scale, "model": model,
            **({"precision": ic.feature_precision} if info["mode"] == "probe" else {})}


def example_texts(ctx, size: str, n: int = 3) -> pd.DataFrame:
    """A few test continuations of each source (human, RLHF, start) with the judge's P(toxic), the most
    and least toxic of each: what a reward is shown before it trains a policy."""
    pool = irl.text_pool(demos_stage.load(ctx, size), "test", ctx.cfg.irl.with_prompt)
    picked = [g.sort_values("p_judge").iloc[list(range(n)) + list(range(-n, 0))] for _, g in pool.groupby("source")]
    return pd.concat(picked)[["source", "input", "p_judge"]].drop_duplicates().reset_index(drop=True)


def run_label(name: str, run: int) -> str:
    """Folder label of one RLOO run of 05: run 0 keeps the plain name, so one-run results stay where they were."""
    return name if run == 0 else f"{name}-seed{run}"


def runs_of(cfg: Config, size: str) -> list[tuple[str, int]]:
    """(reward, run) of every policy 05 compares for `size`: `true` (run 0 is 01's policy), `irl`,
    `random` (run = which random head) and `transfer_from_<other size>`; each `refinetune.seeds` runs."""
    rc = cfg.refinetune
    names = ["true", "irl", "random"]
    if rc.transfer:
        names += [f"transfer_from_{other.name}" for other in cfg.sizes if other.name != size]
    return [(name, run) for name in names for run in range(max(rc.seeds, rc.random_heads) if name == "random" else rc.seeds)]


def _reward(ctx, size: str, name: str, run: int, irl_result: dict):
    """(make_reward, reward_key) of arm `name` for RLOO of `size`."""
    if name == "true":
        return true_reward(ctx, size)
    return (lambda: rlhf.reward_function(reward_model(ctx, size, name, run, irl_result), name),
            reward_key(ctx, size, name, run, irl_result))


def policy(ctx, size: str, name: str, run: int, irl_result: dict) -> tuple[str, str, dict, dict | None]:
    """(label, folder, training summary, reward key) of one policy of 05, trained unless it is finished."""
    if name == "true" and run == 0:
        return (f"{size}-rlhf", *rlhf_policy(ctx, size), None)
    label = run_label(f"{size}-{'rlhf' if name == 'true' else name}", run)
    make_reward, key = _reward(ctx, size, name, run, irl_result)
    folder, summary = train_policy(ctx, size, label, make_reward, key, seed=ctx.cfg.seed + run)
    return label, folder, summary, key


def _policy_evaluated(ctx, size: str, name: str, run: int) -> None:
    label, folder, _, _ = policy(ctx, size, name, run, store.read_json(ctx.layout.result("irl"))["sizes"])
    policy_texts(ctx, label, folder, data.split_of(ctx.prompts, "test"))
    perplexity_of(ctx, label, folder)


def run(ctx) -> dict:
    """Per size: RLHF with the IRL reward, random rewards, and the other sizes' IRL rewards, each
    `refinetune.seeds` times (random: `random_heads` heads); all evaluated against the start and true policies."""
    cfg = ctx.cfg
    irl_result = store.read_json(ctx.layout.result("irl"))["sizes"]
    test_prompts = data.split_of(ctx.prompts, "test")
    test = lambda df: df[df.split == "test"]  # noqa: E731
    in_parallel(ctx, [(f"{size} {name} run {run}", _policy_evaluated, size, name, run)
                      for size in largest_first(cfg) for name, run in runs_of(cfg, size)
                      if (name, run) != ("true", 0)])
    out, trained = {}, {}
    for spec in cfg.sizes:  # every policy is now trained and evaluated: this reads them
        before, true_texts = test(start_texts(ctx, spec.name)), test(rlhf_texts(ctx, spec.name))
        reports = {}
        for name, run_ in runs_of(cfg, spec.name):
            label, folder, summary, key = policy(ctx, spec.name, name, run_, irl_result)
            texts = true_texts if (name, run_) == ("true", 0) else policy_texts(ctx, label, folder, test_prompts)
            report = {"policy": label, "seed": cfg.seed + run_, **summary, **toxicity_report(ctx, before, texts),
                      "perplexity": perplexity_of(ctx, label, folder), "_texts": texts}
            if name != "true":
                report.update(reward_model=key, vs_true=toxicity_report(ctx, true_texts, texts))
            if (name, run_) != ("true", 0):
                trained[label] = folder
            reports.setdefault(name, []).append(report)
        size_out = {}
        for name, runs in reports.items():
            size_out[name] = {k: v for k, v in runs[0].items() if k != "_texts"}
            if len(runs) > 1:
                size_out[name]["runs"] = [{k: v for k, v in r.items() if k != "_texts"} for r in runs]
                size_out[name]["across_runs"] = across_runs(ctx, before, [r["_texts"] for r in runs])
        size_out["start_perplexity"] = start_perplexity(ctx, spec.name)
        out[spec.name] = size_out
    write_curves(ctx, "refinetune_curves", trained)
    store.write_result(ctx.layout.result("refinetune"), {"sizes": out}, cfg)
    return out


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
