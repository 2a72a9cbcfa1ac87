"""Which backbone features make the best probe? Last token vs mean over tokens, continuation alone vs
prompt + continuation, compared on VAL only (the selection split), from a finished cpu run's demonstrations.

    .venv/bin/python scripts/experiments/probe_features.py gemma3-270m smollm2-135m

Writes data/runs/cpu/probe_features.csv (5 seeds per setting, 30 epochs; mean validation metrics)."""
import sys

import pandas as pd

from irlkit import config, irl, models, stages, store

cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
rows = []
for size in sys.argv[1:]:
    demos = stages.demos.load(ctx, size)
    folder = stages.policies.start_folder(ctx, size)
    backbone, tok = models.load_backbone(folder), models.load_tokenizer(folder)
    for with_prompt in (False, True):
        expert, start = irl.pairs(demos, "train", with_prompt)
        val_pool = irl.text_pool(demos, "val", with_prompt)
        for pooling in ("last", "mean"):
            feats = lambda texts: irl.features(backbone, tok, texts, max_length=cfg.irl.max_length,  # noqa: E731
                                               pooling=pooling)
            fe, fs, fv = feats(expert), feats(start), feats(list(val_pool.input))
            for loss in ("max_margin", "logistic"):
                ms = []
                for seed in range(5):
                    probe, _ = irl.train_probe(fe, fs, loss=loss, seed=seed, epochs=cfg.irl.probe_epochs,
                                               lr=cfg.irl.probe_lr, batch_size=cfg.irl.batch_size)
                    ms.append(stages.irl.val_metrics(probe(fv), val_pool))
                rows.append({"size": size, "with_prompt": with_prompt, "pooling": pooling, "loss": loss,
                             **pd.DataFrame(ms).mean().round(3).to_dict()})
                print(rows[-1], flush=True)
                store.write_experiment("probe_features", rows, cfg)  # kept if stopped early
