"""Does a run repeat on the same machine? Regenerates one policy's greedy continuations of a finished cpu
run, with its settings and one torch thread (as its worker had), and compares them with the run's, text by
text, and the judge's scores of the identical ones, bit by bit.

    .venv/bin/python scripts/experiments/repeat_texts.py smollm2-135m-start

Writes data/results/experiments/repeat_texts-<label>.json."""
import sys
import time

import pandas as pd
import torch

from irlkit import config, rlhf, stages, store

torch.set_num_threads(1)
label = sys.argv[1]
cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
size, policy = label.rsplit("-", 1)
folder = ctx.start(size) if policy == "start" else str(ctx.layout.policy(label))
run = pd.read_parquet(ctx.layout.texts(label) / "texts.parquet")
prompts = ctx.prompts.set_index("prompt_id").loc[run.prompt_id].prompt
began = time.time()
texts = rlhf.continuations(folder, list(prompts), cfg, desc=label)
same = run.text.values == pd.Series(texts).values
scores = ctx.judge("judge").score(texts)
bit_identical = bool((scores[same] == run.p_judge.values[same]).all())
store.write_experiment(f"repeat_texts-{label}", {"label": label, "identical": int(same.sum()), "n": len(same),
                                                 "judge_scores_bit_identical": bit_identical}, cfg)
print(f"{label}: {same.sum()} of {len(same)} continuations identical ({time.time() - began:.0f} s); "
      f"judge scores of those bit-identical: {bool((scores[same] == run.p_judge.values[same]).all())}")
