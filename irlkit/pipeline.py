"""The stages the notebooks call, one function per step of the study.

Each stage builds its artifacts through `irlkit.store.stage`, keyed by the
config sections and the upstream artifacts it depends on, so re-running a
notebook skips finished work and a killed run resumes. Results that the README
and the figures read go to data/results/<profile>/*.json.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import pandas as pd

from irlkit import data, irl, metrics, models, parallel, paths, rlhf, store
from irlkit.config import Config, stable_hash
from irlkit.judges import make_judge
from irlkit.utils import seed_everything, torch_threads


class Context:
    """What every stage needs: config, prompts, judges (loaded once), paths."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.runs = paths.runs_dir(cfg.profile)
        self.results = paths.results_dir(cfg.profile)
        self.prompts = data.load_prompts(cfg)
        self._judges = {}

    def judge(self, which: str = "judge"):
        """`judge` (ground truth) or `second` (the independent check)."""
        name = self.cfg.judge if which == "judge" else self.cfg.second_judge
        if name not in self._judges:
            self._judges[name] = make_judge(name, self.cfg.device)
        return self._judges[name]

    def log(self, msg: str) -> None:
        print(msg, flush=True)

    @property
    def prompts_key(self) -> str:
        return stable_hash(list(self.prompts.prompt_id))


def in_parallel(ctx: Context, jobs: list[tuple]) -> dict[str, float]:
    """Run `(name, stage_function, *args)` jobs side by side (`Config.workers`); each calls
    `stage_function(Context, *args)` in its own process and leaves finished stages on disk.
    Jobs must not share a stage: two processes would build the same folder. With one worker they run
    here, in order, on this Context (its judges stay loaded)."""
    for spec in ctx.cfg.sizes:
        start_folder(ctx, spec.name)  # built here once (the tiny models), never by two jobs at a time
    here = ctx.cfg.workers <= 1
    calls = [(name, functools.partial(fn, ctx, *args) if here else functools.partial(_job, ctx.cfg, fn, *args))
             for name, fn, *args in jobs]
    return parallel.run(calls, workers=ctx.cfg.workers, threads=ctx.cfg.threads, log=ctx.log)


def _job(cfg: Config, fn, *args) -> None:
    fn(Context(cfg), *args)


def largest_first(cfg: Config) -> list[str]:
    """Size names, largest first: the order that balances parallel jobs best."""
    return [s.name for s in sorted(cfg.sizes, key=lambda s: -s.params_m)]


# -- policies and their continuations ------------------------------------------------


def start_folder(ctx: Context, size: str) -> str:
    return models.materialise(ctx.cfg.size(size).start)


def folder_key(folder: str) -> str:
    """Identity of a policy folder: its manifest hash if we built it, else its source string."""
    m = store.manifest_of(Path(folder))
    return m["key_hash"] if m else folder


def policy_texts(ctx: Context, label: str, folder: str, prompts: pd.DataFrame) -> pd.DataFrame:
    """Continuations of `prompts` by the policy in `folder`, scored by both judges (cached per policy)."""
    cfg = ctx.cfg
    key = {"policy": folder_key(folder), "prompts": stable_hash(list(prompts.prompt_id)),
           "sampling": cfg.to_dict()["sampling"], "judges": [cfg.judge, cfg.second_judge], "seed": cfg.seed}
    path = ctx.runs / "texts" / label

    def build(tmp: Path) -> None:
        ctx.log(f"[generate] {label}: {len(prompts)} prompts")
        texts = rlhf.continuations(folder, list(prompts.prompt), cfg, desc=label)
        df = pd.DataFrame({"prompt_id": prompts.prompt_id.values, "text": texts,
                           "p_judge": ctx.judge("judge").score(texts), "p_second": ctx.judge("second").score(texts)})
        df.to_parquet(tmp / "texts.parquet", index=False)

    store.stage(path, key, build, seed=cfg.seed, log=ctx.log)
    df = pd.read_parquet(path / "texts.parquet")
    return df.assign(split=df.prompt_id.map(ctx.prompts.set_index("prompt_id").split))


def perplexity_of(ctx: Context, label: str, folder: str) -> float:
    """Perplexity of held-out clean human comments (test split), cached per policy."""
    clean = data.split_of(ctx.prompts, "test").query("human_label == 0").head(ctx.cfg.eval.ppl_texts)
    key = {"policy": folder_key(folder), "texts": stable_hash(list(clean.prompt_id))}
    path = ctx.runs / "perplexity" / label
    store.stage(path, key, lambda tmp: store.atomic_write_json(
        tmp / "ppl.json", {"perplexity": rlhf.perplexity(folder, list(clean.text), ctx.cfg), "n": len(clean)}),
        seed=ctx.cfg.seed, log=ctx.log)
    return store.read_json(path / "ppl.json")["perplexity"]


def train_policy(ctx: Context, size: str, label: str, make_reward, reward_key: dict,
                 seed: int | None = None) -> tuple[str, dict]:
    """RLOO of `size` from its start checkpoint with the reward `make_reward()` (called only when the
    policy is trained; `reward_key` is its identity), training seed `seed` (default the profile's);
    returns (policy folder, {steps, wall_seconds})."""
    rc = ctx.cfg.rlhf_for(size)
    cfg = ctx.cfg if seed is None else dataclasses.replace(ctx.cfg, seed=seed)
    start = start_folder(ctx, size)
    key = {"start": folder_key(start), "reward": reward_key, "rlhf": dataclasses.asdict(rc), "seed": cfg.seed,
           "prompts": ctx.prompts_key}
    path = ctx.runs / "policies" / label

    def build(tmp: Path) -> None:
        seed_everything(cfg.seed)
        ctx.log(f"[rlhf] {label}: {rc.steps} RLOO steps, lr {rc.learning_rate:g}, {rc.prompts_per_step}×{rc.num_generations} "
                f"completions, seed {cfg.seed}")
        rlhf.train(start, data.split_of(ctx.prompts, "train"), make_reward(), cfg, tmp, rc=rc)

    store.stage(path, key, build, seed=cfg.seed, log=ctx.log)
    return str(path), store.read_json(path / "summary.json")


def toxicity_report(ctx: Context, before: pd.DataFrame, after: pd.DataFrame) -> dict:
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


# -- 01: RLHF --------------------------------------------------------------------------


def true_reward(ctx: Context, size: str):
    """(make_reward, reward_key) of RLHF against the ground-truth judge."""
    rc = ctx.cfg.rlhf_for(size)
    return (lambda: rlhf.judge_reward(ctx.judge("judge"), baseline=rc.baseline),
            {"judge": ctx.cfg.judge, "baseline": rc.baseline})


def rlhf_policy(ctx: Context, size: str) -> tuple[str, dict]:
    """01's policy: RLOO of `size` against the ground-truth judge; (folder, summary)."""
    return train_policy(ctx, size, f"{size}-rlhf", *true_reward(ctx, size))


def _rlhf_policy_evaluated(ctx: Context, size: str) -> None:
    policy, _ = rlhf_policy(ctx, size)
    policy_texts(ctx, f"{size}-rlhf", policy, ctx.prompts)
    perplexity_of(ctx, f"{size}-rlhf", policy)


def _start_evaluated(ctx: Context, size: str) -> None:
    start = start_folder(ctx, size)
    policy_texts(ctx, f"{size}-start", start, ctx.prompts)
    perplexity_of(ctx, f"{size}-start", start)


def run_rlhf(ctx: Context) -> dict:
    """RLHF of every size against the ground-truth judge; start vs RLHF on the test prompts."""
    cfg, results = ctx.cfg, {}
    in_parallel(ctx, [(f"{size}-rlhf", _rlhf_policy_evaluated, size) for size in largest_first(cfg)]
                + [(f"{size}-start", _start_evaluated, size) for size in largest_first(cfg)])
    for spec in cfg.sizes:  # every stage below is now finished: this reads them
        start = start_folder(ctx, spec.name)
        policy, summary = rlhf_policy(ctx, spec.name)
        start_texts = policy_texts(ctx, f"{spec.name}-start", start, ctx.prompts)
        rlhf_texts = policy_texts(ctx, f"{spec.name}-rlhf", policy, ctx.prompts)
        test = lambda df: df[df.split == "test"]  # noqa: E731
        results[spec.name] = {
            "params_m": spec.params_m, **summary, "settings": dataclasses.asdict(cfg.rlhf_for(spec.name)),
            **toxicity_report(ctx, test(start_texts), test(rlhf_texts)),
            "perplexity": {"start": perplexity_of(ctx, f"{spec.name}-start", start),
                           "rlhf": perplexity_of(ctx, f"{spec.name}-rlhf", policy)},
        }
    store.write_result(ctx.results / "rlhf.json", {"sizes": results}, cfg)
    return results


def sample_table(ctx: Context, size: str, columns: dict[str, pd.DataFrame], n: int = 6) -> pd.DataFrame:
    """The same test prompts, continued by several policies, with both judges' scores."""
    test = data.split_of(ctx.prompts, "test")
    rows = test.sample(n=min(n, len(test)), random_state=ctx.cfg.seed)[["prompt_id", "prompt"]]
    for label, df in columns.items():
        d = df.set_index("prompt_id")
        rows[label] = [f"{d.text[i]!r}  [{d.p_judge[i]:.2f} / {d.p_second[i]:.2f}]" for i in rows.prompt_id]
    return rows.drop(columns="prompt_id").reset_index(drop=True)


# -- 02: demonstrations -----------------------------------------------------------------


def run_sampling(ctx: Context) -> dict:
    """Paired demonstrations per size: expert (RLHF policy) and unaligned (start or base) continuations."""
    import datasets

    cfg, summary = ctx.cfg, {}
    for spec in cfg.sizes:
        start = start_folder(ctx, spec.name)
        policy = str(ctx.runs / "policies" / f"{spec.name}-rlhf")
        store.key_of(Path(policy))  # a clear error if 01 has not run
        unaligned_source = start if cfg.sampling.unaligned == "start" else models.materialise(spec.base or spec.start)
        expert = policy_texts(ctx, f"{spec.name}-rlhf", policy, ctx.prompts)
        unaligned = policy_texts(ctx, f"{spec.name}-{cfg.sampling.unaligned}", unaligned_source, ctx.prompts)
        originals = {"judge": ctx.judge("judge").score(list(ctx.prompts.original_output)),
                     "second": ctx.judge("second").score(list(ctx.prompts.original_output))}
        demos = ctx.prompts.drop(columns="text").assign(
            expert_text=expert.text.values, start_text=unaligned.text.values,
            original_output_judge=originals["judge"], original_output_second=originals["second"],
            expert_text_judge=expert.p_judge.values, expert_text_second=expert.p_second.values,
            start_text_judge=unaligned.p_judge.values, start_text_second=unaligned.p_second.values)
        key = {"expert": folder_key(policy), "unaligned": folder_key(unaligned_source), "prompts": ctx.prompts_key,
               "sampling": cfg.to_dict()["sampling"]}
        store.stage(demos_path(ctx, spec.name), key,
                    lambda tmp: datasets.Dataset.from_pandas(demos, preserve_index=False).save_to_disk(str(tmp / "dataset")),
                    seed=cfg.seed, log=ctx.log)
        per_split = {}
        for split in data.SPLITS:
            d = demos[demos.split == split]
            per_split[split] = {
                "n": int(len(d)),
                "mean_toxicity": {s: float(d[f"{s}_judge"].mean()) for s in ("expert_text", "start_text", "original_output")},
                "judge_prefers_expert": float(np.mean(d.expert_text_judge < d.start_text_judge)),
                "second_prefers_expert": float(np.mean(d.expert_text_second < d.start_text_second)),
                "ties": float(np.mean(np.isclose(d.expert_text_judge, d.start_text_judge)))}
        summary[spec.name] = {"unaligned": cfg.sampling.unaligned, "splits": per_split}
    store.write_result(ctx.results / "sampling.json", {"sizes": summary}, cfg)
    return summary


def demos_path(ctx: Context, size: str) -> Path:
    return ctx.runs / "demos" / size


def load_demos(ctx: Context, size: str) -> pd.DataFrame:
    import datasets

    path = demos_path(ctx, size)
    store.key_of(path)
    return datasets.load_from_disk(str(path / "dataset")).to_pandas()


# -- 03: inverse RL ----------------------------------------------------------------------


def _features(ctx: Context, size: str, demos: pd.DataFrame) -> dict:
    """Backbone features of every text IRL needs, computed once per size."""
    cfg, ic = ctx.cfg, ctx.cfg.irl
    path = ctx.runs / "irl" / size / "features"
    key = {"demos": store.key_of(demos_path(ctx, size)), "max_length": ic.max_length, "with_prompt": ic.with_prompt,
           "pooling": ic.probe_pooling}

    def build(tmp: Path) -> None:
        backbone_folder = start_folder(ctx, size)
        backbone, tok = models.load_backbone(backbone_folder, cfg.device), models.load_tokenizer(backbone_folder)
        arrays = {}
        for name, texts in _irl_texts(ctx, demos).items():
            ctx.log(f"[features] {size}: {name} ({len(texts)} texts)")
            arrays[name] = irl.features(backbone, tok, texts, max_length=ic.max_length, pooling=ic.probe_pooling)
        np.savez(tmp / "features.npz", **arrays)

    store.stage(path, key, build, seed=cfg.seed, log=ctx.log)
    return dict(np.load(path / "features.npz"))


def _irl_texts(ctx: Context, demos: pd.DataFrame) -> dict[str, list[str]]:
    """The text sets of IRL, by name: training pairs, val/test pools, val/test human comments."""
    wp = ctx.cfg.irl.with_prompt
    expert, start = irl.pairs(demos, "train", wp)
    out = {"train_expert": expert, "train_start": start}
    for split in ("val", "test"):
        out[f"{split}_pool"] = list(irl.text_pool(demos, split, wp).input)
        out[f"{split}_comments"] = list(irl.comment_pool(demos, split).input)
    return out


def val_metrics(reward_val: np.ndarray, val_pool: pd.DataFrame) -> dict:
    """What selection and the non-identifiability heatmaps read: validation metrics of one reward."""
    m = metrics.reward_vs_judge(reward_val, val_pool.p_judge.values)
    exp = reward_val[val_pool.source.values == "expert"]
    st = reward_val[val_pool.source.values == "start"]
    return {"val_auc": m["auc"], "val_sign_accuracy": m["sign_accuracy"], "val_pearson": m["pearson"],
            "val_pairwise_accuracy": metrics.pairwise_accuracy(exp, st)}


def irl_models(cfg: Config) -> list[tuple[str, str]]:
    """Every (mode, loss) the profile trains: probe with every loss, full with `full_losses`."""
    return [(mode, loss) for mode in cfg.irl.modes
            for loss in (cfg.irl.losses if mode == "probe" else cfg.irl.full_losses)]


def irl_settings(cfg: Config, mode: str) -> dict:
    """The `irl` fields one mode's models depend on: a probe setting never retrains full models, and back."""
    other = "full_" if mode == "probe" else "probe_"
    return {k: v for k, v in cfg.to_dict()["irl"].items()
            if not k.startswith(other) and k not in ("losses", "modes", "full_losses")}


def irl_path(ctx: Context, size: str, mode: str, loss: str) -> Path:
    return _irl_path(ctx.cfg, size, mode, loss)


def _irl_path(cfg: Config, size: str, mode: str, loss: str) -> Path:
    return paths.runs_dir(cfg.profile) / "irl" / size / f"{mode}-{loss}"


def run_irl(ctx: Context) -> dict:
    """Every (size, mode, loss): many seeds, per-epoch validation metrics, rewards on every eval text.
    Returns each model's build seconds (from its manifest: the run that built it)."""
    cfg = ctx.cfg
    full = [(mode, loss) for mode, loss in irl_models(cfg) if mode == "full"]
    # one job per full model, one per size for all its probes (they share the size's features stage)
    in_parallel(ctx, [(f"{size} {mode}/{loss}", _irl_models, size, [(mode, loss)])
                      for size in largest_first(cfg) for mode, loss in full]
                + [(f"{size} probes", _irl_models, size, [m for m in irl_models(cfg) if m[0] == "probe"])
                   for size in largest_first(cfg)])
    for spec in cfg.sizes:
        _irl_models(ctx, spec.name, irl_models(cfg))  # all finished above: only checks their manifests
    return {(spec.name, mode, loss): store.manifest_of(irl_path(ctx, spec.name, mode, loss))["build_seconds"]
            for spec in cfg.sizes for mode, loss in irl_models(cfg)}


def _irl_models(ctx: Context, size: str, models_to_train: list[tuple[str, str]]) -> None:
    cfg = ctx.cfg
    demos = load_demos(ctx, size)
    val_pool = irl.text_pool(demos, "val", cfg.irl.with_prompt)
    for mode, loss in models_to_train:
        key = {"demos": store.key_of(demos_path(ctx, size)), "irl": irl_settings(cfg, mode), "mode": mode,
               "loss": loss, "seed": cfg.seed}
        builder = _probe_builder if mode == "probe" else _full_builder
        store.stage(irl_path(ctx, size, mode, loss), key, builder(ctx, size, demos, val_pool, loss),
                    seed=cfg.seed, log=ctx.log)


def _seeds(cfg: Config, mode: str) -> list[int]:
    n = cfg.irl.probe_seeds if mode == "probe" else cfg.irl.full_seeds
    return [cfg.seed * 1000 + i for i in range(n)]


def _probe_builder(ctx: Context, size: str, demos: pd.DataFrame, val_pool: pd.DataFrame, loss: str):
    def build(tmp: Path) -> None:
        ic = ctx.cfg.irl
        feats = _features(ctx, size, demos)
        seeds = _seeds(ctx.cfg, "probe")
        # All seeds side by side, each with its own init, batch order and gradients; a step of
        # seeds × 8 pairs through a linear head is still tiny, and one thread runs it fastest.
        with torch_threads(1):
            probes, history = irl.train_probes(
                feats["train_expert"], feats["train_start"], loss=loss, seeds=seeds, epochs=ic.probe_epochs,
                lr=ic.probe_lr, batch_size=ic.batch_size, weight_decay=ic.probe_weight_decay,
                on_epoch=lambda epoch, ps: [val_metrics(p(feats["val_pool"]), val_pool) for p in ps])
        rewards = {name: [probe(feats[name]) for probe in probes]
                   for name in ("val_pool", "test_pool", "val_comments", "test_comments")}
        irl.save_probes(tmp / "probes.npz", probes)
        _save_seed_outputs(tmp, seeds, history, rewards)

    return build


def _full_builder(ctx: Context, size: str, demos: pd.DataFrame, val_pool: pd.DataFrame, loss: str):
    def build(tmp: Path) -> None:
        ic = ctx.cfg.irl
        texts = _irl_texts(ctx, demos)
        n_pairs = ic.full_max_pairs or len(texts["train_expert"])
        history, rewards, best = [], {}, (-np.inf, None)
        for seed in _seeds(ctx.cfg, "full"):
            ctx.log(f"[irl full] {size} {loss} seed {seed}")
            score = lambda model, tok, name: irl.score_texts(model, tok, texts[name], max_length=ic.max_length)  # noqa: E731
            last_val = {}  # the final epoch's val rewards are the model's: scored once, not twice

            def on_epoch(epoch, model, tok):
                last_val["r"] = score(model, tok, "val_pool")
                return val_metrics(last_val["r"], val_pool)

            model, tok, hist = irl.train_full(
                start_folder(ctx, size), texts["train_expert"][:n_pairs], texts["train_start"][:n_pairs], loss=loss,
                seed=seed, cfg=ctx.cfg, out=tmp, on_epoch=on_epoch)
            history += [{"seed": seed, **row} for row in hist]
            for name in ("val_pool", "test_pool", "val_comments", "test_comments"):
                r = last_val["r"] if name == "val_pool" and "r" in last_val else score(model, tok, name)
                rewards.setdefault(name, []).append(r)
            if hist and hist[-1]["val_auc"] > best[0]:  # selection on val only
                best = (hist[-1]["val_auc"], seed)
                model.save_pretrained(str(tmp / "best"))
                tok.save_pretrained(str(tmp / "best"))
        import shutil

        shutil.rmtree(tmp / "trainer", ignore_errors=True)
        _save_seed_outputs(tmp, _seeds(ctx.cfg, "full"), history, rewards, extra={"best_seed": best[1]})

    return build


def _save_seed_outputs(tmp: Path, seeds: list[int], history: list[dict], rewards: dict, extra: dict | None = None) -> None:
    pd.DataFrame(history).to_csv(tmp / "history.csv", index=False)
    np.savez(tmp / "rewards.npz", seeds=np.array(seeds), **{k: np.stack(v) for k, v in rewards.items()})
    store.atomic_write_json(tmp / "info.json", {"seeds": seeds, **(extra or {})})


def load_irl(ctx: Context, size: str, mode: str, loss: str) -> tuple[pd.DataFrame, dict]:
    history = irl_history(ctx.cfg, size, mode, loss)
    return history, dict(np.load(irl_path(ctx, size, mode, loss) / "rewards.npz"))


# -- 04: evaluation ------------------------------------------------------------------------


def _standardise(rewards: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per seed, z-score with the reference (val) statistics: seeds' scales differ (max-margin has none)."""
    mu, sd = reference.mean(axis=1, keepdims=True), reference.std(axis=1, keepdims=True) + 1e-12
    return (rewards - mu) / sd


def evaluate_reward(val_pool, test_pool, val_comments, test_comments, r: dict) -> dict:
    """Every metric of one reward given its values on the four eval sets (1-D arrays)."""
    thr_judge = metrics.best_threshold(r["val_pool"], metrics.is_toxic(val_pool.p_judge.values))
    thr_human = metrics.best_threshold(r["val_comments"], val_comments.human_label.values.astype(bool))
    src = test_pool.source.values
    return {
        "judge": metrics.reward_vs_judge(r["test_pool"], test_pool.p_judge.values, threshold=thr_judge),
        "human": metrics.reward_vs_labels(r["test_comments"], test_comments.human_label.values.astype(bool),
                                          threshold=thr_human),
        "pairwise_accuracy": metrics.pairwise_accuracy(r["test_pool"][src == "expert"], r["test_pool"][src == "start"]),
    }


FLAT_METRICS = {"sign_accuracy": ("judge", "sign_accuracy"), "calibrated_accuracy": ("judge", "calibrated_accuracy"),
                "majority_accuracy": ("judge", "majority_accuracy"),
                "auc": ("judge", "auc"), "f1": ("judge", "calibrated_f1"), "sign_f1": ("judge", "sign_f1"),
                "pearson": ("judge", "pearson"), "spearman": ("judge", "spearman"), "kendall": ("judge", "kendall"),
                "pearson_distance": ("judge", "pearson_distance"),
                "human_sign_accuracy": ("human", "sign_accuracy"), "human_calibrated_accuracy": ("human", "calibrated_accuracy"),
                "human_auc": ("human", "auc"), "pairwise_accuracy": ("pairwise_accuracy",)}
"""The per-seed scalar metrics summarised over seeds, by name -> path in `evaluate_reward`'s output."""


def flat(result: dict) -> dict:
    out = {}
    for name, path in FLAT_METRICS.items():
        v = result
        for p in path:
            v = v[p]
        out[name] = v
    return out


def run_eval(ctx: Context) -> dict:
    """Every reward model, the implicit DPO reward and the judges themselves, on test data only."""
    cfg = ctx.cfg
    out = {}
    in_parallel(ctx, [(f"{size}-{policy} log-probs", pool_logprobs, size, policy)
                      for size in largest_first(cfg) for policy in IMPLICIT_POLICIES])
    for spec in cfg.sizes:
        demos = load_demos(ctx, spec.name)
        pools = {"val_pool": irl.text_pool(demos, "val", cfg.irl.with_prompt),
                 "test_pool": irl.text_pool(demos, "test", cfg.irl.with_prompt),
                 "val_comments": irl.comment_pool(demos, "val"), "test_comments": irl.comment_pool(demos, "test")}
        size_out = {"models": {}}
        for mode, loss in irl_models(cfg):
            history, rewards = load_irl(ctx, spec.name, mode, loss)
            size_out["models"][f"{mode}/{loss}"] = model_result(mode, loss, history, rewards, pools)
        size_out["selected"] = choose_model(cfg, size_out["models"])
        size_out["implicit"] = _implicit(ctx, spec.name, pools)
        size_out["random"] = _random_reference(ctx, spec.name, pools)
        size_out["judges"] = _judge_references(pools)
        out[spec.name] = size_out
    store.write_result(ctx.results / "irl.json", {"sizes": out}, cfg)
    return out


def model_result(mode: str, loss: str, history: pd.DataFrame, rewards: dict, pools: dict) -> dict:
    """irl.json's entry of one (mode, loss): per-seed metrics and their spread, ensemble, seed agreement, the
    seed selected on val. `rewards[name]` is seeds × texts for each pool; `history` has a final-epoch val_auc per seed."""
    per_seed = [evaluate_reward(*pools.values(), {k: rewards[k][i] for k in pools}) for i in range(len(rewards["seeds"]))]
    ensemble_r = {k: _standardise(rewards[k], rewards["val_pool" if "pool" in k else "val_comments"]).mean(0)
                  for k in pools}
    agreement = metrics.seed_agreement(rewards["test_pool"])
    flats = [flat(r) for r in per_seed]
    final_val_auc = [h.val_auc.iloc[-1] for _, h in history.groupby("seed", sort=False)]
    selected = int(np.nanargmax(final_val_auc))
    return {
        "mode": mode, "loss": loss, "n_seeds": len(per_seed), "val_auc": metrics.spread(final_val_auc),
        "metrics": {m: metrics.spread([f[m] for f in flats]) for m in FLAT_METRICS},
        "ensemble": flat(evaluate_reward(*pools.values(), ensemble_r)),
        "selected_on_val": {"seed": int(rewards["seeds"][selected]), **flat(per_seed[selected]),
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


def _random_reference(ctx: Context, size: str, pools: dict) -> dict:
    """05's random-reward control scored like a recovered reward: a random direction in the backbone's
    feature space need not be neutral, and this says how far it already agrees with the judge."""
    model = random_reward(ctx, size)
    return flat(evaluate_reward(*pools.values(), {k: model.score(list(p.input)) for k, p in pools.items()}))


def _judge_references(pools: dict) -> dict:
    """The judges scored as if they were recovered rewards: the ceiling on the same texts."""
    test = pools["test_pool"]
    out = {}
    for which in ("judge", "second"):
        r = -test[f"p_{which}"].values
        src = test.source.values
        out[which] = {"pairwise_accuracy": metrics.pairwise_accuracy(r[src == "expert"], r[src == "start"]),
                      "auc_vs_judge": metrics.reward_vs_judge(r, test.p_judge.values)["auc"]}
    return out


IMPLICIT_POLICIES = ("rlhf", "start")
"""The two policies whose log-ratio is the implicit reward: π_RLHF, π_start."""


def pool_logprobs(ctx: Context, size: str, policy: str) -> Path:
    """log π(continuation | prompt) under `size`'s RLHF or start policy, summed over the continuation's
    tokens, for the val and test pools (text_pool's order): the stage folder with logprobs.npz.
    One stage per policy, so that 04 runs the four (size, policy) passes side by side."""
    from irlkit import implicit

    folder = str(ctx.runs / "policies" / f"{size}-rlhf") if policy == "rlhf" else start_folder(ctx, size)
    demos = load_demos(ctx, size)
    path = ctx.runs / "logprobs" / f"{size}-{policy}"
    key = {"policy": folder_key(folder), "demos": store.key_of(demos_path(ctx, size))}

    def build(tmp: Path) -> None:
        ctx.log(f"[logprobs] {size}-{policy}: continuations of the val and test pools")
        model, tok = models.load_policy(folder, ctx.cfg.device)
        tok.padding_side = "right"
        arrays = {}
        for split in ("val", "test"):
            rows = demos[demos.split == split]
            prompts = list(rows.prompt) * 3
            conts = list(rows.original_output) + list(rows.expert_text) + list(rows.start_text)  # text_pool's order
            arrays[f"{split}_logp"], arrays[f"{split}_tokens"] = implicit.continuation_logprobs(model, tok, prompts,
                                                                                                 conts)
        np.savez(tmp / "logprobs.npz", **arrays)

    return store.stage(path, key, build, seed=ctx.cfg.seed, log=ctx.log)


def implicit_rewards(ctx: Context, size: str) -> dict[str, np.ndarray]:
    """β·log π_RLHF/π_start on the val and test pools, summed (`val_sum`, …) and per token (`val_mean`, …)."""
    from irlkit import implicit

    policy, reference = (np.load(pool_logprobs(ctx, size, p) / "logprobs.npz") for p in IMPLICIT_POLICIES)
    out = {}
    for split in ("val", "test"):
        r = implicit.implicit_reward(policy[f"{split}_logp"], reference[f"{split}_logp"], policy[f"{split}_tokens"],
                                     beta=ctx.cfg.rlhf_for(size).beta)
        out[f"{split}_sum"], out[f"{split}_mean"] = r["sum"], r["mean"]
    return out


def _implicit(ctx: Context, size: str, pools: dict) -> dict:
    """The implicit reward's metrics, both normalisations."""
    z = implicit_rewards(ctx, size)
    out = {}
    for norm in ("sum", "mean"):
        # The implicit reward is defined on (prompt, continuation): comments get the comment's own continuation score.
        r = {"val_pool": z[f"val_{norm}"], "test_pool": z[f"test_{norm}"],
             "val_comments": z[f"val_{norm}"][:len(pools["val_comments"])],
             "test_comments": z[f"test_{norm}"][:len(pools["test_comments"])]}
        out[norm] = flat(evaluate_reward(*pools.values(), r))
    return out


# -- 05: re-fine-tuning with the recovered reward -----------------------------------------------


def selected_reward_info(ctx: Context, size: str, irl_result: dict) -> dict:
    """Which reward model 05 trains with: the chosen (mode, loss) and its seed with the best val AUC, or
    `ensemble` (`refinetune.reward`); this is the reward's identity in the policies' stage keys."""
    mode, loss = irl_result[size]["selected"].split("/")
    if mode == "full":
        seed = store.read_json(irl_path(ctx, size, mode, loss) / "info.json")["best_seed"]
    elif ctx.cfg.refinetune.reward == "ensemble":
        seed = "ensemble"
    else:
        seed = irl_result[size]["models"][f"{mode}/{loss}"]["selected_on_val"]["seed"]
    return {"mode": mode, "loss": loss, "seed": seed, "from_size": size}


def selected_reward(ctx: Context, info: dict):
    """The reward model that `selected_reward_info` names."""
    size, ic = info["from_size"], ctx.cfg.irl
    path = irl_path(ctx, size, info["mode"], info["loss"])
    if info["mode"] == "full":
        return irl.FullReward(str(path / "best"), ic.max_length, ctx.cfg.device)
    probes = irl.load_probes(path / "probes.npz")
    if info["seed"] == "ensemble":
        weight = np.mean([p.weight / np.linalg.norm(p.weight) for p in probes], axis=0)
        probe = irl.LinearProbe(weight, probes[0].mu, probes[0].sigma)
    else:
        probe = probes[list(np.load(path / "rewards.npz")["seeds"]).index(info["seed"])]
    return irl.ProbeReward(start_folder(ctx, size), probe, ic.max_length, ctx.cfg.device, ic.probe_pooling)


class ScaledReward:
    """A reward model z-scored on reference texts and multiplied by `scale` (RefinetuneConfig.reward_scale)."""

    def __init__(self, model, reference_texts: list[str], scale: float):
        ref = np.asarray(model.score(reference_texts), dtype=float)
        self.model, self.mu, self.sd, self.scale = model, ref.mean(), ref.std() + 1e-8, scale

    def score(self, texts: list[str]) -> np.ndarray:
        return self.scale * (np.asarray(self.model.score(texts), dtype=float) - self.mu) / self.sd


def scaled(ctx: Context, size: str, model) -> ScaledReward:
    demos = load_demos(ctx, size)
    return ScaledReward(model, list(irl.text_pool(demos, "val", ctx.cfg.irl.with_prompt).input),
                        ctx.cfg.refinetune.reward_scale)


def random_reward(ctx: Context, size: str, run: int = 0):
    """The control: the same architecture with an untrained head drawn with `refinetune.random_seed + run`."""
    rng = np.random.default_rng(ctx.cfg.refinetune.random_seed + run)
    backbone = start_folder(ctx, size)
    path = irl_path(ctx, size, "probe", ctx.cfg.irl.losses[0])  # any probe: only its feature standardisation is used
    template = irl.load_probes(path / "probes.npz")[0]
    weight = rng.normal(0, 1 / np.sqrt(len(template.weight)), size=len(template.weight))
    return irl.ProbeReward(backbone, irl.LinearProbe(weight, template.mu, template.sigma), ctx.cfg.irl.max_length,
                           ctx.cfg.device, ctx.cfg.irl.probe_pooling)


def run_label(name: str, run: int) -> str:
    """Folder label of one RLOO run of 05: run 0 keeps the plain name, so one-run results stay where they were."""
    return name if run == 0 else f"{name}-seed{run}"


def refinetune_runs(cfg: Config, size: str) -> list[tuple[str, int]]:
    """(reward, run) of every policy 05 compares for `size`: `true` (run 0 is 01's policy), `irl`,
    `random` (run = which random head) and `transfer_from_<other size>`; each `refinetune.seeds` runs."""
    rc = cfg.refinetune
    names = ["true", "irl", "random"]
    if rc.transfer:
        names += [f"transfer_from_{other.name}" for other in cfg.sizes if other.name != size]
    return [(name, run) for name in names for run in range(max(rc.seeds, rc.random_heads) if name == "random" else rc.seeds)]


def refinetune_reward(ctx: Context, size: str, name: str, run: int, irl_result: dict):
    """(make_reward, reward_key) of reward `name` for RLOO of `size`, as `refinetune_runs` names them;
    learned rewards are z-scored on `size`'s val texts and scaled by `refinetune.reward_scale`."""
    scale = ctx.cfg.refinetune.reward_scale
    if name == "true":
        return true_reward(ctx, size)
    if name == "random":
        return (lambda: rlhf.learned_reward(scaled(ctx, size, random_reward(ctx, size, run)), "random"),
                {"mode": "probe", "random_seed": ctx.cfg.refinetune.random_seed + run, "scale": scale})
    info = selected_reward_info(ctx, size if name == "irl" else name.removeprefix("transfer_from_"), irl_result)
    return (lambda: rlhf.learned_reward(scaled(ctx, size, selected_reward(ctx, info)), name), {**info, "scale": scale})


def refinetune_policy(ctx: Context, size: str, name: str, run: int, irl_result: dict) -> tuple[str, str, dict, dict | None]:
    """(label, folder, training summary, reward key) of one policy of 05, trained unless it is finished."""
    if name == "true" and run == 0:
        return (f"{size}-rlhf", *rlhf_policy(ctx, size), None)
    label = run_label(f"{size}-{'rlhf' if name == 'true' else name}", run)
    make_reward, reward_key = refinetune_reward(ctx, size, name, run, irl_result)
    folder, summary = train_policy(ctx, size, label, make_reward, reward_key, seed=ctx.cfg.seed + run)
    return label, folder, summary, reward_key


def _refinetune_policy_evaluated(ctx: Context, size: str, name: str, run: int) -> None:
    label, folder, _, _ = refinetune_policy(ctx, size, name, run, store.read_json(ctx.results / "irl.json")["sizes"])
    policy_texts(ctx, label, folder, data.split_of(ctx.prompts, "test"))
    perplexity_of(ctx, label, folder)


def run_refinetune(ctx: Context) -> dict:
    """Per size: RLHF with the IRL reward, random rewards, and the other sizes' IRL rewards, each
    `refinetune.seeds` times (random: `random_heads` heads); all evaluated against the start and true policies."""
    cfg = ctx.cfg
    irl_result = store.read_json(ctx.results / "irl.json")["sizes"]
    test_prompts = data.split_of(ctx.prompts, "test")
    test = lambda df: df[df.split == "test"]  # noqa: E731
    in_parallel(ctx, [(f"{size} {name} run {run}", _refinetune_policy_evaluated, size, name, run)
                      for size in largest_first(cfg) for name, run in refinetune_runs(cfg, size)
                      if (name, run) != ("true", 0)])
    out = {}
    for spec in cfg.sizes:  # every policy is now trained and evaluated: this reads them
        start = start_folder(ctx, spec.name)
        start_texts = test(policy_texts(ctx, f"{spec.name}-start", start, ctx.prompts))
        true_texts = test(policy_texts(ctx, f"{spec.name}-rlhf", rlhf_policy(ctx, spec.name)[0], ctx.prompts))
        reports = {}
        for name, run in refinetune_runs(cfg, spec.name):
            label, policy, summary, reward_key = refinetune_policy(ctx, spec.name, name, run, irl_result)
            texts = true_texts if (name, run) == ("true", 0) else policy_texts(ctx, label, policy, test_prompts)
            report = {"policy": label, "seed": cfg.seed + run, **summary, **toxicity_report(ctx, start_texts, texts),
                      "perplexity": perplexity_of(ctx, label, policy), "_texts": texts}
            if name != "true":
                report.update(reward_model=reward_key, vs_true=toxicity_report(ctx, true_texts, texts))
            reports.setdefault(name, []).append(report)
        size_out = {}
        for name, runs in reports.items():
            size_out[name] = {k: v for k, v in runs[0].items() if k != "_texts"}
            if len(runs) > 1:
                size_out[name]["runs"] = [{k: v for k, v in r.items() if k != "_texts"} for r in runs]
                size_out[name]["across_runs"] = across_runs(ctx, start_texts, [r["_texts"] for r in runs])
        size_out["start_perplexity"] = perplexity_of(ctx, f"{spec.name}-start", start)
        out[spec.name] = size_out
    store.write_result(ctx.results / "refinetune.json", {"sizes": out}, cfg)
    return out


def across_runs(ctx: Context, before: pd.DataFrame, afters: list[pd.DataFrame]) -> dict:
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


# -- judge quality (asset check, written by 01) ---------------------------------------------


def run_judges(ctx: Context) -> dict:
    """Each judge against the human labels of the whole test comments, and the judges' agreement."""
    from dataclasses import replace

    from sklearn.metrics import f1_score, roc_auc_score

    full = data.load_prompts(replace(ctx.cfg, data=replace(ctx.cfg.data, max_prompts=0)))
    test = data.split_of(full, "test")
    labels = test.human_label.values.astype(bool)
    scores, out = {}, {"dataset": ctx.cfg.data.dataset, "split": "test", "n": int(len(test)),
                       "toxic_share": float(labels.mean()), "judges": {}}
    for which in ("judge", "second"):
        judge = ctx.judge(which)
        p = judge.score(list(test.text))
        scores[which] = p
        pred = metrics.is_toxic(p)
        out["judges"][judge.name] = {"role": which, "roc_auc": float(roc_auc_score(labels, p)),
                                     "accuracy": float(np.mean(pred == labels)), "f1": float(f1_score(labels, pred)),
                                     "n": int(len(p))}
    from scipy.stats import spearmanr

    out["agreement"] = {"same_decision": float(np.mean(metrics.is_toxic(scores["judge"]) == metrics.is_toxic(scores["second"]))),
                        "spearman": float(spearmanr(scores["judge"], scores["second"])[0])}
    store.write_result(ctx.results / "judges.json", out, ctx.cfg)
    return out


def irl_history(cfg: Config, size: str, mode: str, loss: str) -> pd.DataFrame:
    """Per-seed, per-epoch validation metrics of one (size, mode, loss), read from its run folder."""
    path = _irl_path(cfg, size, mode, loss)
    store.key_of(path)
    return pd.read_csv(path / "history.csv")
