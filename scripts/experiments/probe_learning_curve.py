"""Does the probe want more demonstration pairs? Val AUC against the number of training pairs, from a
finished cpu run's cached features (max-margin, 5 seeds per point, each a different random subset).

    .venv/bin/python scripts/experiments/probe_learning_curve.py gemma3-270m smollm2-135m

Writes data/results/experiments/probe_learning_curve.json."""
import sys

import numpy as np
import pandas as pd

from irlkit import config, irl, stages, store

cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
rows = []
for size in sys.argv[1:]:
    demos = stages.artifacts.demos(ctx, size)
    feats = dict(np.load(ctx.layout.features(size) / "features.npz"))
    val_pool = irl.text_pool(demos, "val", cfg.irl.with_prompt)
    n = len(feats["train_expert"])
    for share in (0.25, 0.5, 0.75, 1.0):
        subset_metrics = []
        for seed in range(5):
            idx = np.random.default_rng(seed).permutation(n)[:int(n * share)]
            probe, _ = irl.train_probe(feats["train_expert"][idx], feats["train_start"][idx], loss="max_margin",
                                       seed=seed, epochs=cfg.irl.probe_epochs, lr=cfg.irl.probe_lr,
                                       batch_size=cfg.irl.batch_size)
            subset_metrics.append(stages.recovery.val_metrics(probe(feats["val_pool"]), val_pool))
        rows.append({"size": size, "pairs": int(n * share), **pd.DataFrame(subset_metrics).mean().to_dict()})
        print(size, f"{int(n * share)} pairs", pd.DataFrame(subset_metrics).mean().round(3).to_dict(), flush=True)
store.write_experiment("probe_learning_curve", rows, cfg)
