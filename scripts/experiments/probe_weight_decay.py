"""Probe L2 × loss × epochs compared on VAL only (the selection split), from the cached features of a cpu run.

    .venv/bin/python scripts/experiments/probe_weight_decay.py smollm2-135m gemma3-270m

Writes data/results/experiments/probe_weight_decay.json (5 seeds per setting; mean validation metrics)."""
import sys

import numpy as np
import pandas as pd

from irlkit import config, irl, stages, store

cfg = config.load("cpu")
ctx = stages.Context(cfg)
rows = []
for size in sys.argv[1:]:
    demos = stages.artifacts.demos(ctx, size)
    feats = dict(np.load(ctx.layout.features(size) / "features.npz"))
    val_pool = irl.text_pool(demos, "val", False)
    for loss in ("max_margin", "hinge", "logistic"):
        for wd in (0.0, 1e-3, 1e-2, 1e-1):
            for epochs in (10, 30):
                ms = []
                for seed in range(5):
                    probe, _ = irl.train_probe(feats["train_expert"], feats["train_start"], loss=loss, seed=seed,
                                               epochs=epochs, lr=1e-2, batch_size=8, weight_decay=wd)
                    ms.append(stages.recovery.val_metrics(probe(feats["val_pool"]), val_pool))
                m = pd.DataFrame(ms).mean()
                rows.append({"size": size, "loss": loss, "wd": wd, "epochs": epochs, **m.round(3).to_dict()})
                print(rows[-1], flush=True)
store.write_experiment("probe_weight_decay", rows, cfg)
