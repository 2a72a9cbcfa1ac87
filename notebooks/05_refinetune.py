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
# RLHF again from the same start checkpoint, same trainer and budget as 01,
# but rewarded by the IRL reward model selected on **val**: among the
# `refinetune.mode` models (probe: cheap to query inside RLOO), the loss with
# the best mean validation AUC over seeds (04 records it as `selected`), then
# that loss's seed with the best validation AUC (the seed ensemble with
# `refinetune.reward="ensemble"`). Test data never enter the choice.
# Controls, same recipe:
#
# * a **random** reward model: same backbone, untrained head drawn with a fixed seed;
# * the **true-judge** policy from 01 (reused, not retrained);
# * **cross-size transfer**: the reward recovered from one size trains the other.
#
# The random control is a distribution of rewards, so it is trained
# `refinetune.random_heads` times, each with a new head and RLOO seed: one
# random head can move toxicity by tens of percent either way. With
# `refinetune.seeds` > 1 every other reward is trained that many times too.
#
# Everything is evaluated on the test prompts under both judges; the second
# judge was never used for training or selection, so it is the check for
# reward hacking. Perplexity of held-out clean human comments checks that the
# policy still speaks English.

# %% tags=["parameters"]
PROFILE = "cpu"
SEED = 0
OVERRIDES = {}

# %%
import pandas as pd

from irlkit import config, paths, pipeline, plots, rlhf, utils

cfg = config.load(PROFILE, seed=SEED, **OVERRIDES)
utils.setup(cfg)
ctx = pipeline.Context(cfg)

# %%
result = pipeline.run_refinetune(ctx)
rows = []
for size, entries in result.items():
    for name, e in entries.items():
        if not isinstance(e, dict):
            continue
        for which in ("judge", "second"):
            t = e[which]
            rows.append({"size": size, "reward": name, "judge": t["name"], "start ratio": round(t["before"]["ratio"], 4),
                         "ratio": round(t["after"]["ratio"], 4), "ratio 95% CI": [round(x, 4) for x in t["after"]["ratio_ci"]],
                         "Δ vs start": round(t["paired"]["ratio_diff"]["diff"], 4),
                         "p vs start": round(t["paired"]["ratio_diff"]["p_value"], 4),
                         "p vs true": round(e["vs_true"][which]["paired"]["ratio_diff"]["p_value"], 4) if "vs_true" in e else None,
                         "perplexity": round(e["perplexity"], 2)})
pd.DataFrame(rows)

# %% [markdown]
# Rewards trained more than once (the random heads; every reward with `refinetune.seeds` > 1): the
# mean change of the toxicity ratio, each run's change, and a bootstrap over runs, then prompts, so
# that the spread between runs counts in the CI and the p-value.

# %%
pd.DataFrame([{"size": size, "reward": name, "judge": a["name"], "runs": a["ratio_diff"]["runs"],
               "mean Δ ratio": round(a["ratio_diff"]["diff"], 4), "relative": f"{a['ratio_relative_change']:+.0%}",
               "each run": [round(d, 4) for d in a["ratio_diff"]["run_diffs"]],
               "95% CI": [round(x, 4) for x in a["ratio_diff"]["diff_ci"]], "p": round(a["ratio_diff"]["p_value"], 4)}
              for size, entries in result.items() for name, e in entries.items()
              if isinstance(e, dict) and "across_runs" in e for a in e["across_runs"].values()])

# %%
logs = {f"{size} {name}": rlhf.read_log(ctx.runs / "policies" / e["policy"])
        for size, entries in result.items() for name, e in entries.items() if isinstance(e, dict)}
fig = plots.training_curves(logs, "RLHF with recovered, random and true rewards")
plots.save(fig, "refinetune_curves", paths.figures_dir(cfg.profile))

# %% [markdown]
# The rewards in these curves are on each reward model's own scale, so compare
# their shapes, not their levels; the toxicity table above is the common scale.

# %% [markdown]
# ## The same prompts under every reward

# %%
test = ctx.prompts[ctx.prompts.split == "test"]
for size, entries in result.items():
    columns = {"start": pipeline.policy_texts(ctx, f"{size}-start", pipeline.start_folder(ctx, size), ctx.prompts)}
    for name, e in entries.items():
        if isinstance(e, dict):
            prompts = ctx.prompts if name == "true" else test
            columns[name] = pipeline.policy_texts(ctx, e["policy"], str(ctx.runs / "policies" / e["policy"]), prompts)
    print(size)
    display(pipeline.sample_table(ctx, size, columns))  # noqa: F821
