# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Inverse RL: recover the reward from the demonstrations
#
# The reward model is a backbone of the policy's size (initialised from the
# start checkpoint) with a scalar head on the last non-pad token. It is trained
# on pairs (expert, start) with d = R̂(expert) − R̂(start) and one of three losses:
#
# | loss | L(d) | note |
# |---|---|---|
# | `max_margin` | −d + ReLU(−d) | the study's; unbounded below, so R̂'s scale and offset are not identified |
# | `hinge` | ReLU(1 − d) | stops pushing once a pair is separated by 1 |
# | `logistic` | −log σ(d) | Bradley–Terry; convex for a linear head |
#
# Two modes: `full` fine-tunes the whole model (the study's), on TRL's
# `RewardTrainer` with the loss swapped, so `accelerate launch` scales it;
# `probe` freezes the backbone, caches its features once, and trains only the
# head — many seeds in seconds. Gradients are zeroed every step (the study's
# code never zeroed them). Every seed logs validation metrics after each epoch;
# selection later uses the **val** split only.

# %% tags=["parameters"]
PROFILE = "cpu"
REPLICATE = 0  # which replicate of the study: its own seeds, its own folders (0 … cfg.replicates − 1)
SEED = 0
OVERRIDES = {}

# %%
import pandas as pd

from irlkit import config, plots, report, stages, utils

cfg = config.load(PROFILE, seed=SEED, **OVERRIDES)
ctx = stages.Context(cfg, REPLICATE)
utils.setup(ctx.cfg)  # threads, and the replicate's seed

# %%
build_seconds = stages.irl.run(ctx)
pd.Series({f"{s} {m}/{l}": t for (s, m, l), t in build_seconds.items()}, name="build seconds")

# %% [markdown]
# ## Validation metrics by seed and epoch
# The study's non-identifiability figure: the same data and loss, different
# seeds, and the validation sign accuracy they end at.

# %%
history = pd.read_csv(ctx.layout.table("irl_history"))
plots.show(plots.seed_epoch_heatmap(history, "val_sign_accuracy"), "irl_seed_epoch_sign_accuracy", ctx.layout.figures)

# %%
plots.show(plots.seed_epoch_heatmap(history, "val_auc"), "irl_seed_epoch_auc", ctx.layout.figures)

# %% [markdown]
# Sign accuracy moves with R̂'s offset, which no pairwise loss pins down: it
# wanders across seeds and epochs. ROC-AUC ignores the offset and is far more
# stable — the difference between the two heatmaps is the study's
# non-identifiability, seen from the side that can be fixed.

# %%
report.final_epoch_table(history)
