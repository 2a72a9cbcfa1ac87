"""Readers of finished stages, for the notebooks after the one that builds them: each checks the stage against
the current config by its manifests (`graph.require`), then loads it. Nothing here builds.

    demos = artifacts.demos(ctx, "tiny-a")                               # 02's demonstrations
    feats = artifacts.features(ctx, "tiny-a")                            # 03's backbone features
    history, rewards = artifacts.reward_models(ctx, "tiny-a", "probe", "logistic")
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from irlkit import irl
from irlkit.stages import graph


def demos(ctx, size: str) -> pd.DataFrame:
    """02's paired demonstrations of `size`: prompt, expert_text, start_text, both judges' scores, split."""
    import datasets

    return datasets.load_from_disk(str(graph.require(ctx, "demos", size=size) / "dataset")).to_pandas()


def texts(ctx, label: str, shared: bool = False, prompts: str = "all") -> pd.DataFrame:
    """A policy's continuations of the prompts (`all`, or one split's) with both judges' scores (the `texts`
    stage, which 01 builds for its policies and 05 for its own, on the test prompts)."""
    df = pd.read_parquet(graph.require(ctx, "texts", label=label, shared=shared, prompts=prompts) / "texts.parquet")
    return df.assign(split=df.prompt_id.map(ctx.prompts.set_index("prompt_id").split))


def features(ctx, size: str) -> dict[str, np.ndarray]:
    """03's backbone features of every text IRL reads, by text set (`recovery.texts`)."""
    return dict(np.load(graph.require(ctx, "features", size=size) / "features.npz"))


def reward_model_folder(ctx, size: str, mode: str, loss: str) -> Path:
    """03's folder of one (size, mode, loss): every seed's rewards, history, probes or best model."""
    return graph.require(ctx, f"{mode}_model", size=size, loss=loss)


def reward_models(ctx, size: str, mode: str, loss: str) -> tuple[pd.DataFrame, dict]:
    """(history, rewards) of one (size, mode, loss): per-seed, per-epoch validation metrics, and
    `rewards[name]`, seeds × texts for each eval set, with `seeds`."""
    folder = reward_model_folder(ctx, size, mode, loss)
    return pd.read_csv(folder / "history.csv"), dict(np.load(folder / "rewards.npz"))


def probes(ctx, size: str, loss: str) -> list[irl.LinearProbe]:
    """03's probe heads of one (size, loss), one per seed, in `reward_models`' seed order."""
    return irl.load_probes(reward_model_folder(ctx, size, "probe", loss) / "probes.npz")
