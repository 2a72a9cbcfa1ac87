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
# under both judges, with bootstrap CIs and a paired test.
#
# Run headless: `./run_all.sh cpu` (or `python -m irlkit.runner cpu --only 01_rlhf`).

# %% tags=["parameters"]
PROFILE = "cpu"
SEED = 0
OVERRIDES = {}

# %%
import dataclasses

import pandas as pd

from irlkit import config, data, paths, pipeline, plots, rlhf, utils

cfg = config.load(PROFILE, seed=SEED, **OVERRIDES)
utils.setup(cfg)
ctx = pipeline.Context(cfg)
pd.DataFrame(data.counts(ctx.prompts)).T

# %% [markdown]
# ## The judges, checked against human labels
# Before any judge becomes a reward, we measure it on the human labels of the
# test comments (`data/results/<profile>/judges.json`).

# %%
judges = pipeline.run_judges(ctx)
pd.DataFrame(judges["judges"]).T.assign(agreement=judges["agreement"]["same_decision"])

# %% [markdown]
# ## RLHF for every size, then start vs RLHF on the test prompts
# The recipe is shared; a size may override it (`PolicySpec.rlhf` in
# `irlkit/config.py`). In `cpu`, Gemma-3-270M trains at a lower learning rate
# than SmolLM2: at 4e-5 it stopped being toxic by collapsing into
# numbered lists (perplexity +82%).

# %%
pd.DataFrame({spec.name: dataclasses.asdict(cfg.rlhf_for(spec.name)) for spec in cfg.sizes})

# %%
results = pipeline.run_rlhf(ctx)
rows = []
for size, r in results.items():
    for which in ("judge", "second"):
        t = r[which]
        rows.append({"size": size, "judge": t["name"], "start ratio": t["before"]["ratio"], "RLHF ratio": t["after"]["ratio"],
                     "start mean": t["before"]["mean"], "RLHF mean": t["after"]["mean"],
                     "Δ ratio 95% CI": t["paired"]["ratio_diff"]["diff_ci"], "p (ratio)": t["paired"]["ratio_diff"]["p_value"],
                     "p (mean)": t["paired"]["mean_diff"]["p_value"]})
    rows[-1]["perplexity start → RLHF"] = f"{r['perplexity']['start']:.1f} → {r['perplexity']['rlhf']:.1f}"
pd.DataFrame(rows)

# %%
logs = {size: rlhf.read_log(ctx.runs / "policies" / f"{size}-rlhf") for size in results}
fig = plots.training_curves(logs, "RLHF against the ground-truth judge")
plots.save(fig, "rlhf_curves", paths.figures_dir(cfg.profile))

# %% [markdown]
# The curves show the batch reward (−P(toxic)) rising and the KL to the start
# policy growing while RLOO optimises; the table above says whether that
# carries over to held-out prompts and to the second judge, which RLHF never saw.

# %% [markdown]
# ## The same prompts, start vs RLHF
# Each cell: the continuation, then [ground-truth judge / second judge] P(toxic).

# %%
for spec in cfg.sizes:
    start_texts = pipeline.policy_texts(ctx, f"{spec.name}-start", pipeline.start_folder(ctx, spec.name), ctx.prompts)
    rlhf_texts = pipeline.policy_texts(ctx, f"{spec.name}-rlhf", str(ctx.runs / "policies" / f"{spec.name}-rlhf"), ctx.prompts)
    print(spec.name)
    display(pipeline.sample_table(ctx, spec.name, {"start": start_texts, "RLHF": rlhf_texts}))  # noqa: F821
