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
# # 01 · RLHF: teach each model not to be toxic
#
# For every model size of the profile we run RLHF from the start checkpoint
# with TRL's `RLOOTrainer`, rewarded by the ground-truth toxicity judge:
# r = −P_judge(toxic | continuation). The study used trlx PPO; **TRL 1.16 ships
# no PPO trainer** (it was removed), and RLOO is its KL-regularised on-policy
# replacement: k completions per prompt, the leave-one-out mean as baseline,
# KL to the start checkpoint folded into the reward, no value network — which
# is also what fits on 2 CPU cores. The KL reference is the *saved* start
# checkpoint (β > 0).
#
# We then compare start and RLHF policies on held-out **test** prompts, greedy,
# under both judges, with bootstrap CIs and a paired test, and measure how far
# RLHF moved each policy: its KL to the start on the **val** prompts, from
# sampled continuations (the x axis of the RLHF-strength sweep, 06).
#
# Run headless: `./run_all.sh cpu` (or `python -m irlkit.runner cpu --only 01_rlhf`).

# %% tags=["parameters"]
PROFILE = "cpu"
REPLICATE = 0  # which replicate of the study: its own seeds, its own folders (0 … cfg.replicates − 1)
SEED = 0
OVERRIDES = {}

# %%
import pandas as pd

from irlkit import data, plots, report, stages

ctx = stages.open(PROFILE, REPLICATE, SEED, OVERRIDES)  # config, folders, prompts, judges, threads, seeds
cfg = ctx.cfg
pd.DataFrame(data.counts(ctx.prompts)).T

# %% [markdown]
# ## The judges, checked against human labels
# Before any judge becomes a reward, we measure it on the human labels of the
# test comments (`data/results/<profile>/judges.json`).

# %%
judges = stages.alignment.run_judges(ctx)
report.judges_table(judges)

# %% [markdown]
# ## RLHF for every size, then start vs RLHF on the test prompts
# The recipe is shared; a size may override it (`PolicySpec.rlhf` in
# `irlkit/config.py`): in `cpu`, Gemma-3-270M trains at a lower learning rate
# than SmolLM2 (why: `docs/history.md`).

# %%
report.rlhf_settings_table(cfg)

# %%
results = stages.alignment.run(ctx)
report.rlhf_table(results)

# %%
curves = pd.read_csv(ctx.layout.table("rlhf_curves"))
plots.show(plots.training_curves(curves, "RLHF against the ground-truth judge"), "rlhf_curves", ctx.layout.figures)

# %% [markdown]
# The curves show the batch reward (−P(toxic)) rising and the KL to the start
# policy growing while RLOO optimises; the table above says whether that
# carries over to held-out prompts and to the second judge, which RLHF never saw.

# %% [markdown]
# ## The same prompts, start vs RLHF
# Each cell: the continuation, then [ground-truth judge / second judge] P(toxic).

# %%
for spec in cfg.sizes:
    print(spec.name)
    display(stages.policies.sample_table(ctx, {"start": stages.alignment.start_texts(ctx, spec.name),  # noqa: F821
                                               "RLHF": stages.alignment.rlhf_texts(ctx, spec.name)}))
