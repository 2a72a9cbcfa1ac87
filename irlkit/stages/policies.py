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
    """Continuations of the prompts (`all`; one split's; or `evaluation`: val, test and, in the final replicates, the
    sealed set) by the policy in folder `policy`, scored by both judges (the `texts` stage): one per prompt with the profile's decoding, or, with
    `samples` > 0, that many per prompt sampled at temperature 1 (column `sample`). `shared`: a policy that is the
    same in every replicate (the start policy), decoded once with the profile's own seed."""
    cfg = ctx.base_cfg if shared else ctx.cfg
    rows = (ctx.prompts if prompts == "all" else
            ctx.prompts[ctx.prompts.split.isin(["val", "test", data.report_split(cfg)])] if prompts == "evaluation" else
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
    cfg = ctx.cfg

    def build(tmp: Path) -> None:
        ctx.log(f"[kl] {label}: {cfg.eval.kl_samples} sampled continuations of the val prompts")
        model, _ = models.load_policy(policy, cfg.device)
        point = ValPath(ctx, size, judged=False, precision=cfg.eval.logprob_precision, compiled=cfg.compile_forward)(
            model, step=None)
        store.atomic_write_json(tmp / "kl.json", {k: point[k] for k in ("kl", "kl_se", "kl_per_token", "samples",
                                                                        "samples_per_prompt", "prompts")})

    path = graph.build(ctx, "policy_kl", build, upstream=[policy, ctx.start(size), ctx.prompt_source()], label=label)
    return store.read_json(path / "kl.json")


def plain_copy(model, dtype):
    """A copy of a causal LM's weights in `dtype`, in eval mode, built from its config: a trainer's model carries
    TRL's and accelerate's patches on its forward, which a deep copy would keep pointing at the original."""
    from transformers import AutoModelForCausalLM

    if hasattr(model, "peft_config"):
        raise ValueError("a LoRA policy is measured once merged (config: eval.path_every needs rlhf.lora_rank = 0)")
    out = AutoModelForCausalLM.from_config(model.config, dtype=dtype, attn_implementation=model.config._attn_implementation)
    out.load_state_dict(model.state_dict())
    out.generation_config = model.generation_config
    return out.to(next(model.parameters()).device).eval()


class ValPath:
    """A policy measured on the val prompts as it trains: `eval.kl_samples` sampled continuations of each (temperature
    1, seeded by the replicate's seed, so every arm of a replicate is shown the same random numbers), their KL to the
    start (mean of log π(y|x) − log π_start(y|x), with its standard error) and, unless `judged` is False, each
    judge's mean P(toxic), overall and per val prompt (sorted by id, `metrics.endpoint`). One call is one point of
    the toxicity–KL path that `rlhf.train` records every `eval.path_every` steps (05 compares arms at equal KL on
    it); `kl_to_start` is the same measurement of a finished policy. Log-probabilities in `precision` (default: the
    sampling precision), the start's blocks `compiled` or not: the path reads no setting of 04's log-probabilities, so
    changing those retrains no policy.

        point = ValPath(ctx, "tiny-a")(model, step=8)   # {"step": 8, "kl": ..., "toxicity": {"judge": ...}, ...}
    """

    def __init__(self, ctx, size: str, judged: bool = True, precision: str | None = None, compiled: bool = False):
        self.ctx, self.size, self.judged, self.compiled = ctx, size, judged, compiled
        self.precision = precision or ctx.cfg.sampling.precision
        self.vocab_block = ctx.cfg.eval.logprob_vocab_block if precision else None  # None: implicit's default
        self.val = data.split_of(ctx.prompts, "val")
        self._start = None  # the start's scorer, loaded at the first point

    @torch.no_grad()
    def __call__(self, model, step: int | None) -> dict:
        """One point for `model` (any causal LM on the start's tokenizer; it is copied, never changed)."""
        from irlkit import implicit, sampling

        cfg, k = self.ctx.cfg, self.ctx.cfg.eval.kl_samples
        dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}
        prompts = [p for p in self.val.prompt for _ in range(k)]
        tok = models.load_tokenizer(self.ctx.start(self.size))
        policy = plain_copy(model, dtype[cfg.sampling.precision])
        with sampling.inverse_cdf_sampling(True):
            texts = sampling.generate(policy, tok, prompts, max_new_tokens=cfg.sampling.max_new_tokens,
                                      batch_size=cfg.sampling.batch_size, do_sample=True, temperature=1.0,
                                      seed=cfg.seed, show_progress=False, desc=f"{self.size} val path")
        if self._start is None:
            self._start = models.load_scorer(self.ctx.start(self.size), cfg.device, self.precision, self.compiled)
        scorer_tok = models.load_tokenizer(self.ctx.start(self.size), padding_side="right")
        kw = {"vocab_block": self.vocab_block} if self.vocab_block is not None else {}
        logp_policy, tokens = implicit.continuation_logprobs(policy.to(dtype[self.precision]), scorer_tok, prompts,
                                                             texts, **kw)
        logp_start, _ = implicit.continuation_logprobs(self._start[0], scorer_tok, prompts, texts,
                                                       compiled=self.compiled, **kw)
        ratio = logp_policy - logp_start
        point = {"step": step, "kl": float(ratio.mean()), "kl_se": float(ratio.std(ddof=1) / np.sqrt(len(ratio))),
                 "kl_per_token": float(ratio.sum() / max(tokens.sum(), 1)), "samples": len(ratio),
                 "samples_per_prompt": k, "prompts": len(self.val)}
        if self.judged:
            ids = np.repeat(self.val.prompt_id.values, k)
            per_prompt = {which: metrics.endpoint(self.ctx.judge(which).score(texts), ids)[1].tolist()
                          for which in ("judge", "second")}
            point.update(toxicity={which: float(np.mean(v)) for which, v in per_prompt.items()}, per_prompt=per_prompt)
        return point


def start_point(ctx, size: str) -> tuple[Path, dict]:
    """(folder, point): the first point of every toxicity–KL path of `size` in this replicate, stage `path_start`.
    Every RLOO run of the replicate starts from the same weights and `ValPath` draws from the replicate's seed, so
    the start is measured once rather than at step 0 of each run (`tests/test_rlhf.py` checks that the two agree).

        folder, point = start_point(ctx, "tiny-a")   # point["kl"] == 0.0; point["toxicity"]["judge"]: the start's
    """
    def build(tmp: Path) -> None:
        model, _ = models.load_policy(ctx.start(size), ctx.cfg.device)
        store.atomic_write_json(tmp / "point.json", ValPath(ctx, size)(model, 0))

    folder = graph.build(ctx, "path_start", build, upstream=[ctx.start(size), ctx.prompt_source(), *ctx.judge_sources()],
                         size=size)
    return folder, store.read_json(folder / "point.json")


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
    rc, seed = ctx.cfg.rlhf_for(size, realign=stage in graph.REALIGNED), ctx.cfg.seed + run
    start = ctx.start(size)
    first_folder, first = start_point(ctx, size) if ctx.cfg.eval.path_every else (None, None)

    def build(tmp: Path) -> None:
        seed_everything(seed)
        ctx.log(f"[rlhf] {tmp.name}: {rc.steps} RLOO steps, lr {rc.learning_rate:g}, {rc.prompts_per_step}×{rc.num_generations} "
                f"completions, seed {seed}")
        rlhf.train(start, data.split_of(ctx.prompts, "train"), make_reward(), rc, tmp,
                   max_new_tokens=ctx.cfg.sampling.max_new_tokens, seed=seed, device=ctx.cfg.device,
                   desc=graph.folder(ctx, stage, **params).name,
                   measure=ValPath(ctx, size), measure_every=ctx.cfg.eval.path_every, first_point=first)

    judges = [j for j in ctx.judge_sources() if j not in upstream] if ctx.cfg.eval.path_every else []  # the path's
    path = graph.build(ctx, stage, build, upstream=[start, ctx.prompt_source(), *upstream, *judges,
                                                    *([first_folder] if first_folder else [])], **params)
    return str(path), store.read_json(path / "summary.json")


def true_reward(ctx, size: str, realign: bool = False):
    """RLHF's reward: −P(toxic) under the ground-truth judge (what `make_reward` of `train_policy` returns)."""
    return rlhf.reward_function(JudgeReward(ctx.judge("judge")), baseline=ctx.cfg.rlhf_for(size, realign).baseline)


def rlhf_policy(ctx, size: str, run: int = 0) -> tuple[str, dict]:
    """RLOO of `size` against the ground-truth judge (run 0: 01's policy; 05's true arm adds runs); (folder, summary).
    A size with an already-aligned policy (`PolicySpec.aligned`) trains nothing for run 0: that policy is 01's."""
    aligned = ctx.cfg.size(size).aligned
    if aligned and run == 0:
        return models.materialise(aligned), {"steps": 0, "wall_seconds": 0.0, "aligned": aligned}
    return train_policy(ctx, "rlhf_policy", lambda: true_reward(ctx, size), ctx.judge_sources(("judge",)),
                        size=size, run=run)


def true_policy(ctx, size: str, run: int) -> tuple[str, dict]:
    """Run `run` of 05's true arm: RLOO against the ground-truth judge with 05's recipe (`refinetune.rlhf`) where 05
    has one of its own (`Config.realign_recipe_own`), else `rlhf_policy` (run 0: 01's policy); (folder, summary)."""
    if not ctx.cfg.realign_recipe_own:
        return rlhf_policy(ctx, size, run)
    return train_policy(ctx, "true_policy", lambda: true_reward(ctx, size, realign=True), ctx.judge_sources(("judge",)),
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
