"""Whose features should the probe read: the start policy's (the stages, as the study initialises its
reward model) or the RLHF policy's (the expert's own weights, a white-box assumption IRL does not make)?
Both on the same demonstrations of a finished cpu run, every loss, 5 seeds, last-token features.
Val is the selection split; test is printed beside it.

    .venv/bin/python scripts/experiments/probe_backbone.py smollm2-135m gemma3-270m

Writes data/results/experiments/probe_backbone.json."""
import sys

import numpy as np

from irlkit import config, irl, metrics, models, stages, store

cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
rows = []
for size in sys.argv[1:]:
    demos = stages.artifacts.demos(ctx, size)
    texts = stages.recovery.texts(ctx, demos)
    pools = {split: irl.text_pool(demos, split, cfg.irl.with_prompt) for split in ("val", "test")}
    backbones = {"start": ctx.start(size), "rlhf": str(ctx.layout.policy(f"{size}-rlhf"))}
    for name, folder in backbones.items():
        backbone, tok = models.load_backbone(folder), models.load_tokenizer(folder)
        feats = {key: irl.features(backbone, tok, texts[key], max_length=cfg.irl.max_length)
                 for key in ("train_expert", "train_start", "val_pool", "test_pool")}
        for loss in irl.LOSSES:
            probes, _ = irl.train_probes(feats["train_expert"], feats["train_start"], loss=loss, seeds=list(range(5)),
                                         epochs=cfg.irl.probe_epochs, lr=cfg.irl.probe_lr,
                                         batch_size=cfg.irl.batch_size)
            auc = {split: np.mean([metrics.reward_vs_judge(p(feats[f"{split}_pool"]), pool.p_judge.values)["auc"]
                                   for p in probes]) for split, pool in pools.items()}
            rows.append({"size": size, "backbone": name, "loss": loss,
                         "val_auc": round(float(auc["val"]), 3), "test_auc": round(float(auc["test"]), 3)})
            print(rows[-1], flush=True)
store.write_experiment("probe_backbone", rows, cfg)
