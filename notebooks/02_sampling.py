# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
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
SEED = 0
OVERRIDES = {}

# %%
import pandas as pd

from irlkit import config, pipeline, utils

cfg = config.load(PROFILE, seed=SEED, **OVERRIDES)
utils.setup(cfg)
ctx = pipeline.Context(cfg)

# %%
summary = pipeline.run_sampling(ctx)
pd.DataFrame([{"size": size, "split": split, "n": s["n"], **{f"mean P(toxic) {k}": v for k, v in s["mean_toxicity"].items()},
               "judge prefers expert": s["judge_prefers_expert"], "second judge prefers expert": s["second_prefers_expert"],
               "ties": s["ties"]}
              for size, entry in summary.items() for split, s in entry["splits"].items()])

# %% [markdown]
# "judge prefers expert" is the share of pairs where the RLHF continuation is
# scored less toxic than the start policy's: the signal IRL has to recover.
# Pairs where both sides are equally clean (ties) carry no preference.

# %%
demos = pipeline.load_demos(ctx, cfg.sizes[0].name)
demos[["split", "prompt", "expert_text", "expert_text_judge", "start_text", "start_text_judge", "human_label"]].head(8)
