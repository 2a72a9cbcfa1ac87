"""03 · Recovery: inverse RL reward models from the demonstrations, every (size, mode, loss), many seeds.

    build_seconds = stages.recovery.run(ctx)                 # -> irl_history.csv; models in the run folder
    history, rewards = stages.artifacts.reward_models(ctx, "tiny-a", "probe", "logistic")
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from irlkit import data, irl, metrics, models, store
from irlkit.config import Config
from irlkit.stages import artifacts, graph
from irlkit.stages.context import in_parallel, largest_first
from irlkit.utils import torch_threads

def texts(ctx, demos: pd.DataFrame) -> dict[str, list[str]]:
    """The text sets of IRL, by name: training pairs, val/test pools, val/test human comments. `test` is the
    split 04 reports on (`data.report_split`: the sealed set in the final replicates)."""
    wp = ctx.cfg.irl.with_prompt
    expert, start = irl.pairs(demos, "train", wp)
    out = {"train_expert": expert, "train_start": start}
    for name, split in (("val", "val"), ("test", data.report_split(ctx.cfg))):
        out[f"{name}_pool"] = list(irl.text_pool(demos, split, wp).input)
        out[f"{name}_comments"] = list(irl.comment_pool(demos, split, wp).input)
    return out


def features(ctx, size: str, demos: pd.DataFrame) -> Path:
    """Backbone features of every text IRL needs, computed once per size (in `irl.feature_precision`,
    stored as fp32): the `features` stage's folder, built unless finished."""
    cfg, ic = ctx.cfg, ctx.cfg.irl

    def build(tmp: Path) -> None:
        backbone_folder = ctx.start(size)
        backbone, tok = models.load_backbone(backbone_folder, cfg.device), models.load_tokenizer(backbone_folder)
        if ic.feature_precision == "bf16":
            backbone.to(torch.bfloat16)
        if cfg.compile_forward:
            models.compile_blocks(backbone)
        arrays = {}
        for name, batch in texts(ctx, demos).items():
            ctx.log(f"[features] {size}: {name} ({len(batch)} texts)")
            arrays[name] = irl.features(backbone, tok, batch, max_length=ic.max_length, pooling=ic.probe_pooling)
        np.savez(tmp / "features.npz", **arrays)

    return graph.build(ctx, "features", build, upstream=[graph.require(ctx, "demos", size=size), ctx.start(size)],
                       size=size)


def val_metrics(reward_val: np.ndarray, val_pool: pd.DataFrame) -> dict:
    """Validation metrics of one reward: label-free (`metrics.LABEL_FREE`, on the val demonstration pairs: what
    selection reads) and against the judge (`val_auc`, …: the oracle and the seed × epoch heatmaps, never a choice)."""
    m = metrics.reward_vs_judge(reward_val, val_pool.p_judge.values)
    exp = reward_val[val_pool.source.values == "expert"]
    st = reward_val[val_pool.source.values == "start"]
    return {**metrics.label_free(exp, st), "val_auc": m["auc"], "val_sign_accuracy": m["sign_accuracy"], "val_pearson": m["pearson"]}


def run(ctx) -> dict:
    """Every (size, mode, loss): many seeds, per-epoch validation metrics, rewards on every eval text.
    Writes every seed's per-epoch history to `irl_history.csv`; returns each model's build seconds
    (from its manifest: the run that built it)."""
    cfg = ctx.cfg
    full = [(mode, loss) for mode, loss in graph.models_of(cfg) if mode == "full"]
    # one job per full model, one per size for all its probes (they share the size's features stage)
    in_parallel(ctx, [(f"{size} {mode}-{loss}", train, size, [(mode, loss)])
                      for size in largest_first(cfg) for mode, loss in full]
                + [(f"{size} probes", train, size, [m for m in graph.models_of(cfg) if m[0] == "probe"])
                   for size in largest_first(cfg)])
    histories = [artifacts.reward_models(ctx, spec.name, mode, loss)[0].assign(size=spec.name, mode=mode, loss=loss)
                 for spec in cfg.sizes for mode, loss in graph.models_of(cfg)]  # each checked against this config
    store.atomic_write_text(ctx.layout.table("irl_history"), pd.concat(histories).to_csv(index=False))
    return {(spec.name, mode, loss): store.manifest_of(ctx.layout.irl_model(spec.name, mode, loss))["build_seconds"]
            for spec in cfg.sizes for mode, loss in graph.models_of(cfg)}


def train(ctx, size: str, models_to_train: list[tuple[str, str]]) -> None:
    """The reward models of one size (a stage per (mode, loss)); finished ones are skipped."""
    demos = artifacts.demos(ctx, size)
    val_pool = irl.text_pool(demos, "val", ctx.cfg.irl.with_prompt)
    upstream = [graph.require(ctx, "demos", size=size)]
    feats = features(ctx, size, demos) if any(mode == "probe" for mode, _ in models_to_train) else None
    for mode, loss in models_to_train:
        if mode == "probe":
            graph.build(ctx, "probe_model", _probe_builder(ctx, size, feats, val_pool, loss), upstream=[*upstream, feats],
                        size=size, loss=loss)
        else:
            graph.build(ctx, "full_model", _full_builder(ctx, size, demos, val_pool, loss),
                        upstream=[*upstream, ctx.start(size)], size=size, loss=loss)


def seeds(cfg: Config, mode: str) -> list[int]:
    n = cfg.irl.probe_seeds if mode == "probe" else cfg.irl.full_seeds
    return [cfg.seed * 1000 + i for i in range(n)]


def _probe_builder(ctx, size: str, features_folder: Path, val_pool: pd.DataFrame, loss: str):
    def build(tmp: Path) -> None:
        ic = ctx.cfg.irl
        feats = dict(np.load(features_folder / "features.npz"))
        # All seeds side by side, each with its own init, batch order and gradients; a step of
        # seeds × 8 pairs through a linear head is still tiny, and one thread runs it fastest.
        with torch_threads(1):
            probes, hist = irl.train_probes(
                feats["train_expert"], feats["train_start"], loss=loss, seeds=seeds(ctx.cfg, "probe"),
                epochs=ic.probe_epochs, lr=ic.probe_lr, batch_size=ic.batch_size, weight_decay=ic.probe_weight_decay,
                on_epoch=lambda epoch, ps: [val_metrics(p(feats["val_pool"]), val_pool) for p in ps])
        rewards = {name: [probe(feats[name]) for probe in probes] for name in irl.EVAL_SETS}
        irl.save_probes(tmp / "probes.npz", probes)
        _save_seed_outputs(tmp, seeds(ctx.cfg, "probe"), hist, rewards)

    return build


def _full_builder(ctx, size: str, demos: pd.DataFrame, val_pool: pd.DataFrame, loss: str):
    if ctx.cfg.irl.full_blocks:
        return _top_blocks_builder(ctx, size, demos, val_pool, loss)

    def build(tmp: Path) -> None:
        ic = ctx.cfg.irl
        sets = texts(ctx, demos)
        n_pairs = ic.full_max_pairs or len(sets["train_expert"])
        hist, rewards, best = [], {}, ((-np.inf,), None)
        for seed in seeds(ctx.cfg, "full"):
            ctx.log(f"[irl full] {size} {loss} seed {seed}")
            score = lambda model, tok, name: irl.score_texts(model, tok, sets[name], max_length=ic.max_length)  # noqa: E731
            last_val = {}  # the final epoch's val rewards are the model's: scored once, not twice

            def on_epoch(epoch, model, tok):
                last_val["r"] = score(model, tok, "val_pool")
                return val_metrics(last_val["r"], val_pool)

            model, tok, rows = irl.train_full(
                ctx.start(size), sets["train_expert"][:n_pairs], sets["train_start"][:n_pairs], loss=loss,
                seed=seed, cfg=ctx.cfg, out=tmp, on_epoch=on_epoch, desc=size)
            hist += [{"seed": seed, **row} for row in rows]
            for name in irl.EVAL_SETS:
                r = last_val["r"] if name == "val_pool" and "r" in last_val else score(model, tok, name)
                rewards.setdefault(name, []).append(r)
            score = tuple(rows[-1][k] for k in metrics.LABEL_FREE) if rows else None
            if score is not None and score > best[0]:  # label-free, on val demonstrations only
                best = (score, seed)
                model.save_pretrained(str(tmp / "best"))
                tok.save_pretrained(str(tmp / "best"))
        shutil.rmtree(tmp / "trainer", ignore_errors=True)
        _save_seed_outputs(tmp, seeds(ctx.cfg, "full"), hist, rewards, extra={"best_seed": best[1]})

    return build


def _top_blocks_builder(ctx, size: str, demos: pd.DataFrame, val_pool: pd.DataFrame, loss: str):
    """Full mode with `irl.full_blocks` > 0: the inputs of the top blocks are computed once for every text,
    then each seed trains the top blocks and a head on them (`irl.train_top_blocks`); the best seed on val
    is written back into a whole reward model (`best/`), which scores raw text like a full fine-tune."""
    def build(tmp: Path) -> None:
        ic = ctx.cfg.irl
        sets = texts(ctx, demos)
        n_pairs = ic.full_max_pairs or len(sets["train_expert"])
        sets["train_expert"], sets["train_start"] = sets["train_expert"][:n_pairs], sets["train_start"][:n_pairs]
        folder = ctx.start(size)
        backbone, tok = models.load_backbone(folder, ctx.cfg.device), models.load_tokenizer(folder)
        ctx.log(f"[irl full] {size}: inputs of the top {ic.full_blocks} blocks for {sum(map(len, sets.values()))} texts "
                f"({ic.full_input_precision})")
        # the blocks below the cut run in a copy of their own precision; the top blocks copy the fp32 weights
        bottom = (models.load_backbone(folder, ctx.cfg.device).to(torch.bfloat16) if ic.full_input_precision == "bf16"
                  else backbone)
        cached = {name: irl.block_inputs(bottom, tok, batch, blocks=ic.full_blocks, max_length=ic.max_length)
                  for name, batch in sets.items()}
        del bottom
        hist, rewards, best = [], {}, ((-np.inf,), None, None)
        for seed in seeds(ctx.cfg, "full"):
            last_val = {}

            def on_epoch(epoch, model):
                last_val["r"] = model.score(cached["val_pool"])
                return val_metrics(last_val["r"], val_pool)

            model, rows = irl.train_top_blocks(
                backbone, cached["train_expert"], cached["train_start"], blocks=ic.full_blocks, loss=loss, seed=seed,
                epochs=ic.full_epochs, lr=ic.full_lr, head_lr=ic.full_head_lr, batch_size=ic.batch_size,
                on_epoch=on_epoch, desc=size)
            hist += [{"seed": seed, **row} for row in rows]
            for name in irl.EVAL_SETS:
                rewards.setdefault(name, []).append(last_val["r"] if name == "val_pool" else model.score(cached[name]))
            score = tuple(rows[-1][k] for k in metrics.LABEL_FREE)
            if score > best[0]:  # label-free, on val demonstrations only
                best = (score, seed, model)
        reward_model, reward_tok = models.load_reward_model(folder, ctx.cfg.device)
        best[2].write_into(reward_model)
        reward_model.save_pretrained(str(tmp / "best"))
        reward_tok.save_pretrained(str(tmp / "best"))
        _save_seed_outputs(tmp, seeds(ctx.cfg, "full"), hist, rewards,
                           extra={"best_seed": best[1], "trained_blocks": ic.full_blocks})

    return build


def _save_seed_outputs(tmp: Path, seed_list: list[int], hist: list[dict], rewards: dict, extra: dict | None = None) -> None:
    pd.DataFrame(hist).to_csv(tmp / "history.csv", index=False)
    np.savez(tmp / "rewards.npz", seeds=np.array(seed_list), **{k: np.stack(v) for k, v in rewards.items()})
    store.atomic_write_json(tmp / "info.json", {"seeds": seed_list, **(extra or {})})
