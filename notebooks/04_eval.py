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
SEED = 0
OVERRIDES = {}

# %%
import pandas as pd

from irlkit import config, paths, pipeline, plots, utils

cfg = config.load(PROFILE, seed=SEED, **OVERRIDES)
utils.setup(cfg)
ctx = pipeline.Context(cfg)

# %%
result = pipeline.run_eval(ctx)
rows = []
for size, s in result.items():
    for name, m in s["models"].items():
        rows.append({"size": size, "reward": name, "seeds": m["n_seeds"],
                     **{k: f"{m['metrics'][k]['mean']:.3f} ± {m['metrics'][k]['sd']:.3f}"
                        for k in ("sign_accuracy", "calibrated_accuracy", "auc", "pearson", "human_auc", "pairwise_accuracy")},
                     "ensemble auc": round(m["ensemble"]["auc"], 3), "seed ρ": round(m["seed_agreement_mean"], 2)})
    for norm, m in s["implicit"].items():
        rows.append({"size": size, "reward": f"implicit DPO ({norm})", "seeds": 0,
                     **{k: f"{m[k]:.3f}" for k in ("sign_accuracy", "calibrated_accuracy", "auc", "pearson", "human_auc",
                                                   "pairwise_accuracy")}})
    for which, j in s["judges"].items():
        rows.append({"size": size, "reward": f"judge itself ({which})", "pairwise_accuracy": f"{j['pairwise_accuracy']:.3f}",
                     "auc": f"{j['auc_vs_judge']:.3f}"})
pd.DataFrame(rows)

# %%
fig = plots.metric_bars(result)
plots.save(fig, "irl_metrics", paths.figures_dir(cfg.profile))

# %%
print({size: r["selected"] for size, r in result.items()})  # the reward 05 uses: chosen on val
fig = plots.confusions(result)
plots.save(fig, "irl_confusions", paths.figures_dir(cfg.profile))

# %%
fig = plots.seed_agreement(result)
plots.save(fig, "irl_seed_agreement", paths.figures_dir(cfg.profile))

# %% [markdown]
# Read the bars with the dashed line at 0.5 (chance). Rank metrics (AUC,
# pairwise accuracy) say whether R̂ orders texts like the judge; the seed
# agreement heatmap says whether different seeds recover the *same* ordering —
# high agreement with high AUC means the reward is identified up to the
# shift and scale no pairwise loss can fix.
