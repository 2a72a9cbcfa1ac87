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
# Two modes. `probe` freezes the backbone, caches its features once, and trains
# only the head — many seeds in seconds. `full` trains the network too: with
# `irl.full_blocks = 0` every weight (the study's), on TRL's `RewardTrainer` with
# the loss swapped, so `accelerate launch` scales it; with `full_blocks = k` the
# last k blocks, the final norm and the head, on the hidden states entering
# block L − k, cached once (`irl.TopBlocks`), so that every seed trains for
# several epochs within a CPU budget. Gradients are zeroed every step (the study's
# code never zeroed them). Every seed logs validation metrics after each epoch;
# selection later uses the **val** split only.

# %% tags=["parameters"]
PROFILE = "cpu"
REPLICATE = 0  # which replicate of the study: its own seeds, its own folders (0 … cfg.replicates − 1)
SEED = 0
OVERRIDES = {}

# %%
import pandas as pd

from irlkit import plots, report, stages

ctx = stages.open(PROFILE, REPLICATE, SEED, OVERRIDES)  # config, folders, prompts, judges, threads, seeds
cfg = ctx.cfg

# %%
build_seconds = stages.recovery.run(ctx)
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

# %% [markdown]
# ## Full mode: seeds that train, and where they part
# A probe's loss is convex or nearly so in its head, and its seeds end on one
# direction. Full mode is where seeds can end on different rewards: each seed
# starts the trained blocks from the same checkpoint but draws its own head and
# batch order. First the training pairs it ranks the right way, epoch by epoch:
# a seed near 0.5 has not trained, and its spread would be noise.

# %%
full = [("full", loss) for loss in cfg.irl.full_losses] if "full" in cfg.irl.modes else []
if full:
    plots.show(plots.seed_epoch_heatmap(history, "train_pairwise_accuracy", models=full),
               "irl_full_seed_epoch_train_accuracy", ctx.layout.figures)

# %%
if full:
    plots.show(plots.seed_epoch_heatmap(history, "val_auc", models=full), "irl_full_seed_epoch_auc", ctx.layout.figures)

# %% [markdown]
# The study's seed spread came from full fine-tuning with gradients that were
# never zeroed, a loss with no scale, and sign accuracy, which reads R̂'s
# arbitrary offset (`docs/history.md`). Here the gradients are zeroed, and the
# spread left in val AUC between seeds that did train is the one a fixed
# dataset leaves open. How wide the set of equally good rewards really is, the
# posterior and the bootstrap over demonstrations measure in 04.

# %%
report.final_epoch_table(history)
