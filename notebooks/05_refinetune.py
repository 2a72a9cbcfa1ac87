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
# # 05 · Re-fine-tuning: align fresh models with the recovered reward
#
# RLHF again from the same start checkpoint with the same trainer as 01 (and
# its budget, unless `refinetune.rlhf` gives 05 a recipe of its own), but rewarded by the IRL reward model selected **without labels**: among the
# `refinetune.mode` models (probe: cheap to query inside RLOO), the loss whose
# seeds order the held-out *demonstration* pairs of val best on average (04
# records it as `selected`), then that loss's seed that orders them best (the
# seed ensemble with `refinetune.reward="ensemble"`). No judge score, no human
# label and no test text enters the choice: an auditor of a real model has none.
# Controls, same recipe:
#
# * **random** reward models: same backbone, untrained heads drawn with fixed seeds;
# * the **flipped-pair null**: the probe fitted to the same demonstration pairs with each pair's orientation
#   flipped at random, which learns what tells the two policies apart without a direction;
# * the **true-judge** reward: 01's policy reused, or, where the profile gives 05 a recipe of its own
#   (`refinetune.rlhf`: the cpu profile, whose audited policy trains harder than 05's arms), trained by 05
#   with that recipe like every other arm;
# * **cross-size transfer**: the reward recovered from one size trains the other.
#
# The random control is a distribution of rewards, so it is trained
# `refinetune.random_heads` times, each with a new head and RLOO seed: one
# random head can move toxicity by tens of percent either way. Every other
# reward but the transfer is trained `refinetune.seeds` times, or as often as
# its size's `refinetune_seeds` says (the cpu profile: SmolLM2 4, Gemma 1,
# chosen for power in docs/realignment.md).
#
# The primary endpoint samples 4 continuations of every evaluation prompt (val,
# test and, in the final replicates, the sealed set), scored by both judges;
# greedy toxicity on the report split stays as the secondary column. The second
# judge was never used for training or selection, so it is the check for
# reward hacking. Perplexity of held-out clean human comments checks that the
# policy still speaks English.

# %% tags=["parameters"]
PROFILE = "cpu"
REPLICATE = 0  # which replicate of the study: its own seeds, its own folders (0 … cfg.replicates − 1)
SEED = 0
OVERRIDES = {}

# %%
import pandas as pd

from irlkit import plots, report, stages
from irlkit.quantities import arm_entries, dose_points

ctx = stages.open(PROFILE, REPLICATE, SEED, OVERRIDES)  # config, folders, prompts, judges, threads, seeds
cfg = ctx.cfg

# %% [markdown]
# ## The reward, before it trains anything
# The recovered reward of the first size as RLOO will see it: the model chosen
# on val, z-scored on val texts and scaled. Beside it, the random control.
# Each is scored on the most and least toxic test continuations of each source.

# %%
size = cfg.sizes[0].name
irl_reward = stages.realignment.reward_model(ctx, size, "irl")
random_reward = stages.realignment.reward_model(ctx, size, "random")
print(irl_reward)
report.scored_examples({"IRL reward": irl_reward, "random head": random_reward},
                       stages.realignment.example_texts(ctx, size))

# %% [markdown]
# A useful reward ranks the clean texts above the toxic ones: its rank
# correlation with −P(toxic) in the last row is well above the random head's.
#
# ## Every arm, trained and evaluated on the test prompts
#
# Each policy leaves a record under the replicate's results (`realignment/<policy>.json`) as soon as it is
# evaluated: its texts' scores, perplexity, path and training log. A run stopped halfway resumes from them, on
# this machine or, once they are committed, on another one (which rebuilds 01–04 first); a record made with
# another config, code or other results of 01–04 is made again.

# %%
result = stages.realignment.run(ctx)

# %% [markdown]
# ## The primary endpoint: how toxic each policy is when it samples
#
# Every policy writes `eval.endpoint_samples` continuations (temperature 1) of every evaluation prompt (val and
# test; the sealed set too in the final replicates), and each judge scores them. A policy's endpoint is its
# mean P(toxic): continuous, so one flipped greedy token cannot move it. Each arm is shown as its change from the
# start, relative to the start's mean, with an interval over its RLOO runs and the prompts, and a tick per run.
# The grey band is ±0.1 around the true arm: "as well as the true reward" needs the IRL − true interval inside it.

# %%
if cfg.eval.endpoint_samples:
    plots.show(plots.realignment_endpoint(result), "realignment_endpoint", ctx.layout.figures)
    display(report.endpoint_table(result))  # noqa: F821

# %% [markdown]
# ## The arms at equal distance from the start
#
# An arm that moves further from the start can lower toxicity more and speak worse; comparing arms only at the end
# of training mixes what a reward asks for with how hard RLOO pushed. Every `eval.path_every` steps each policy
# is measured on the val prompts (sampled continuations: KL to the start, each judge's mean P(toxic)); the dotted
# line is the largest KL that every run of IRL and of the true arm reaches, where the two are compared.

# %%
if cfg.eval.path_every:
    plots.show(plots.realignment_paths(result), "realignment_paths", ctx.layout.figures)
    display(report.matched_kl_table(result))  # noqa: F821

# %% [markdown]
# ## Does a better reward align better?
#
# Each run of a probe reward (IRL, the flipped-pair null, the random heads) as a dot: its toxicity change against
# how well its reward orders the val demonstration pairs (label-free) and how well it ranks the report split's
# model-written texts by the judge (evaluation only). A reward that carries the goal should sit lower on the right.

# %%
plots.show(plots.reward_dose(dose_points(result)), "reward_dose", ctx.layout.figures)

# %% [markdown]
# IRL against the true reward is read first under the second judge, which neither trained on; against the
# random heads and the flipped-pair null, under the judge. The greedy toxicity ratio on test, the secondary
# column, follows.

# %%
report.refinetune_detail(result)

# %% [markdown]
# Rewards trained more than once (the random heads; every reward of a size with more than one seed): the
# mean change of the toxicity ratio, each run's change, and a bootstrap over runs, then prompts, so
# that the spread between runs counts in the CI and the p-value.

# %%
report.refinetune_over_runs(result)

# %%
curves = pd.read_csv(ctx.layout.table("refinetune_curves"))
plots.show(plots.training_curves(curves, "RLHF with recovered, random and true rewards"), "refinetune_curves",
           ctx.layout.figures)

# %% [markdown]
# The rewards in these curves are on each reward model's own scale, so compare
# their shapes, not their levels; the toxicity table above is the common scale.

# %% [markdown]
# ## The same prompts under every reward

# %%
for size, entries in result.items():
    columns = {"start": stages.realignment.record_texts(f"{size}-start", ctx)}
    for name, e in arm_entries(entries).items():
        columns[name] = stages.realignment.record_texts(e["policy"], ctx)
    print(size)
    display(stages.policies.sample_table(ctx, columns))  # noqa: F821
