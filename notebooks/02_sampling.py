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
# # 02 · Sampling: paired demonstrations
#
# For every prompt of every split we take one continuation from the RLHF policy
# (`expert_text`) and one from the start policy (`start_text`), with the same
# decoding (greedy by default, as the study). The study took its "toxic" side
# from the *base* model rather than from the checkpoint RLHF started from,
# which mixes the effect of SFT with that of RLHF; here the unaligned side is
# the RLHF start, and `sampling.unaligned="base"` restores the study's choice
# (paper profile). Generation is batched: one `generate` call per batch of
# left-padded prompts.

# %% tags=["parameters"]
PROFILE = "cpu"
REPLICATE = 0  # which replicate of the study: its own seeds, its own folders (0 … cfg.replicates − 1)
SEED = 0
OVERRIDES = {}

# %%
from irlkit import plots, report, stages

ctx = stages.open(PROFILE, REPLICATE, SEED, OVERRIDES)  # config, folders, prompts, judges, threads, seeds
cfg = ctx.cfg

# %%
summary = stages.demonstrations.run(ctx)
report.demos_table(summary)

# %% [markdown]
# "judge prefers expert" is the share of pairs where the RLHF continuation is
# scored less toxic than the start policy's: the signal IRL has to recover.
# Pairs where both sides are equally clean (ties) carry no preference.

# %%
demos = {spec.name: stages.artifacts.demos(ctx, spec.name) for spec in cfg.sizes}
plots.show(plots.demo_scores(demos), "demo_scores", ctx.layout.figures)

# %% [markdown]
# Most continuations of both policies are clean (note the log scale): the
# pairs differ in the tail, where the expert has fewer toxic texts than the
# start policy. The human continuations are far more often toxic: IRL never
# trains on them, but 04 scores them.

# %%
demos[cfg.sizes[0].name][["split", "prompt", "expert_text", "expert_text_judge", "start_text", "start_text_judge",
                          "human_label"]].head(8)
