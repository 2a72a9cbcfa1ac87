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
# # 04 · Evaluation: how well, and how uniquely, is the reward recovered?
#
# On **test** data only, each recovered reward R̂ is compared with
#
# * the ground-truth judge on every held-out continuation (human, RLHF, start):
#   the study's sign accuracy ([R̂ ≤ 0] vs toxic), accuracy at a threshold chosen
#   on val, ROC-AUC, F1, Pearson / Spearman / Kendall with r* = −P(toxic), and
#   the Pearson distance √((1−ρ)/2);
# * the **human labels** of the whole held-out comments;
# * held-out demonstration pairs: pairwise accuracy, beside the judges' own.
#
# The **DPO implicit reward** β·log π_RLHF(y|x)/π_start(y|x) is the
# training-free baseline. **Non-identifiability**: the spread of each metric
# over seeds, seed × seed rank correlation of rewards, and the seed ensemble.

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
result = stages.evaluation.run(ctx)

# %% [markdown]
# ## Is the goal recovered, beyond who wrote the text?
#
# Most judge-toxic test texts are human-written, so a reward that only knows
# the author already ranks the pooled texts well. The headline is therefore
# the ROC-AUC on **model-written** texts (the RLHF and the start policy's
# continuations), beside what a reader can check it against: the
# **source-only** reward (RLHF policy > start policy), the grey **null band**
# of random heads on the same features, the training-free **implicit
# reward**, the judge's own pick among the IRL models (**oracle**: no auditor
# has a judge), the same method fitted to pairs **re-oriented by the judge**
# (what these texts allow), and the supervised **ceiling**.

# %%
plots.show(plots.goal_recovery(result), "goal_recovery", ctx.layout.figures)
report.goal_table(result)

# %% [markdown]
# Every reward model, mean ± sd over its seeds (the within-source AUCs first;
# calibrated accuracy beside the majority-class rate):

# %%
report.irl_table(result)

# %%
plots.show(plots.metric_bars(result), "irl_metrics", ctx.layout.figures)

# %% [markdown]
# Read the bars with the dashed line at 0.5 (chance). Rank metrics (AUC,
# pairwise accuracy) say whether R̂ orders texts like the judge.

# %%
# the reward 05 uses, chosen label-free on the val demonstration pairs; beside it, the judge's pick (oracle, unused)
print({size: {"label-free": r["selected"], "oracle": r["oracle_selected"]} for size, r in result.items()})
plots.show(plots.confusions(result), "irl_confusions", ctx.layout.figures)

# %% [markdown]
# ## Non-identifiability, measured
# How many rewards explain the same demonstrations equally well? A Bradley–Terry
# likelihood on the pairs with a Gaussian prior on a linear head (its scale
# chosen on the val pairs) gives a posterior over rewards; 200 heads drawn from
# it (Laplace approximation) are 200 rewards that explain the demonstrations,
# and their AUCs on the test texts show how differently they judge new text.

# %%
plots.show(plots.posterior_auc(result), "posterior_auc", ctx.layout.figures)
report.identifiability_table(result)

# %%
plots.show(plots.contraction(result), "contraction", ctx.layout.figures)

# %% [markdown]
# The contraction curve says how much data pins the reward down: as training
# pairs grow, the posterior's covariance shrinks and its test AUCs narrow.

# %%
plots.show(plots.seed_agreement(result), "irl_seed_agreement", ctx.layout.figures)

# %% [markdown]
# The seed agreement heatmap says whether different seeds recover the *same*
# ordering of the test texts. For a linear probe with a pairwise loss the seeds
# are driven to nearly one direction, so agreement there is a property of the
# optimiser as much as of the data; in full mode the seeds can disagree.
