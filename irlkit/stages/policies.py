"""What 01, 02 and 05 share: policies trained by RLOO, their continuations, perplexity, toxicity.

    folder, summary = train_policy(ctx, "tiny-a", "tiny-a-rlhf", make_reward, reward_key)
    texts = policy_texts(ctx, "tiny-a-rlhf", folder, ctx.prompts)     # scored by both judges
    report = toxicity_report(ctx, before=start_texts, after=texts)     # CIs and the paired test
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from irlkit import data, metrics, models, rlhf, store
from irlkit.config import stable_hash
from irlkit.utils import seed_everything


def start_folder(ctx, size: str) -> str:
    """The start checkpoint of `size` (materialised once: converted asset or tiny model)."""
    return models.materialise(ctx.cfg.size(size).start)


def folder_key(folder: str) -> str:
    """Identity of a policy folder: its manifest hash if we built it, else its source string."""
    m = store.manifest_of(Path(folder))
    return m["key_hash"] if m else folder


def policy_texts(ctx, label: str, folder: str, prompts: pd.DataFrame, shared: bool = False) -> pd.DataFrame:
    """Continuations of `prompts` by the policy in `folder`, scored by both judges (cached per policy).
    `shared`: a policy that is the same in every replicate (the start policy), decoded once with the
    profile's own seed."""
    cfg = ctx.base_cfg if shared else ctx.cfg
    key = {"policy": folder_key(folder), "prompts": stable_hash(list(prompts.prompt_id)),
           "sampling": cfg.to_dict()["sampling"], "judges": [cfg.judge, cfg.second_judge], "seed": cfg.seed}
    path = ctx.layout.texts(label, shared)

    def build(tmp: Path) -> None:
        ctx.log(f"[generate] {label}: {len(prompts)} prompts")
        texts = rlhf.continuations(folder, list(prompts.prompt), cfg, desc=label)
        df = pd.DataFrame({"prompt_id": prompts.prompt_id.values, "text": texts,
                           "p_judge": ctx.judge("judge").score(texts), "p_second": ctx.judge("second").score(texts)})
        df.to_parquet(tmp / "texts.parquet", index=False)

    store.stage(path, key, build, seed=cfg.seed, log=ctx.log)
    df = pd.read_parquet(path / "texts.parquet")
    return df.assign(split=df.prompt_id.map(ctx.prompts.set_index("prompt_id").split))


def perplexity_of(ctx, label: str, folder: str, shared: bool = False, split: str = "test") -> float:
    """Perplexity of held-out clean human comments of `split` (test: what is reported; val: what a recipe
    is chosen on), cached per policy (`shared`: as in `policy_texts`)."""
    clean = data.split_of(ctx.prompts, split).query("human_label == 0").head(ctx.cfg.eval.ppl_texts)
    key = {"policy": folder_key(folder), "texts": stable_hash(list(clean.prompt_id)),
           "vocab_block": ctx.cfg.eval.logprob_vocab_block}
    path = ctx.layout.perplexity(label if split == "test" else f"{label}-{split}", shared)
    store.stage(path, key, lambda tmp: store.atomic_write_json(
        tmp / "ppl.json", {"perplexity": rlhf.perplexity(folder, list(clean.text), ctx.cfg), "n": len(clean)}),
        seed=ctx.cfg.seed, log=ctx.log)
    return store.read_json(path / "ppl.json")["perplexity"]


def train_policy(ctx, size: str, label: str, make_reward, reward_key: dict,
                 seed: int | None = None) -> tuple[str, dict]:
    """RLOO of `size` from its start checkpoint with the reward function `make_reward()` (called only
    when the policy is trained; `reward_key` is its identity), training seed `seed` (default the
    profile's); returns (policy folder, {steps, wall_seconds})."""
    rc = ctx.cfg.rlhf_for(size)
    cfg = ctx.cfg if seed is None else dataclasses.replace(ctx.cfg, seed=seed)
    start = start_folder(ctx, size)
    key = policy_key(ctx, size, reward_key, cfg.seed)
    path = ctx.layout.policy(label)

    def build(tmp: Path) -> None:
        seed_everything(cfg.seed)
        ctx.log(f"[rlhf] {label}: {rc.steps} RLOO steps, lr {rc.learning_rate:g}, {rc.prompts_per_step}×{rc.num_generations} "
                f"completions, seed {cfg.seed}")
        rlhf.train(start, data.split_of(ctx.prompts, "train"), make_reward(), cfg, tmp, rc=rc, desc=label)

    store.stage(path, key, build, seed=cfg.seed, log=ctx.log)
    return str(path), store.read_json(path / "summary.json")


def policy_key(ctx, size: str, reward_key: dict, seed: int) -> dict:
    """Everything an RLOO policy depends on: start checkpoint, reward, recipe, horizon, seed, prompts."""
    return {"start": folder_key(start_folder(ctx, size)), "reward": reward_key,
            "rlhf": dataclasses.asdict(ctx.cfg.rlhf_for(size)), "horizon": ctx.cfg.sampling.max_new_tokens,
            "seed": seed, "prompts": ctx.prompts_key}


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
    curves = pd.concat([rlhf.read_log(Path(folder)).assign(policy=label) for label, folder in policies.items()],
                       ignore_index=True)
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
