"""Which layer's features make the best probe? The probe trained on the last-token hidden state of every
second layer of the frozen start backbone (the pipeline reads the final one), 5 seeds per point, from a
finished cpu run's demonstrations. Val is the selection split; test is printed beside it.

    .venv/bin/python scripts/experiments/probe_layers.py gemma3-270m smollm2-135m

Writes data/results/experiments/probe_layers.json."""
import sys

import numpy as np
import torch

from irlkit import config, irl, metrics, models, stages, store

cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
rows = []
for size in sys.argv[1:]:
    demos = stages.artifacts.demos(ctx, size)
    folder = ctx.start(size)
    backbone, tok = models.load_backbone(folder), models.load_tokenizer(folder)
    expert, start = irl.pairs(demos, "train", cfg.irl.with_prompt)
    pools = {split: irl.text_pool(demos, split, cfg.irl.with_prompt) for split in ("val", "test")}
    texts = {"expert": expert, "start": start, **{split: list(pool.input) for split, pool in pools.items()}}
    n_layers = backbone.config.num_hidden_layers
    feats = {}
    with torch.inference_mode():
        for name, batch_texts in texts.items():
            out = np.zeros((n_layers + 1, len(batch_texts), backbone.config.hidden_size), np.float32)
            for idx, enc in irl.length_batches(tok, batch_texts, max_length=cfg.irl.max_length, batch_size=32,
                                               device=backbone.device):
                for layer, hidden in enumerate(backbone(**enc, output_hidden_states=True).hidden_states):
                    out[layer, idx] = hidden[:, -1].float().numpy()
            feats[name] = out
    for layer in range(2, n_layers + 1, 2):
        for loss in ("max_margin", "logistic"):
            auc = {split: [] for split in pools}
            for seed in range(5):
                probe, _ = irl.train_probe(feats["expert"][layer], feats["start"][layer], loss=loss, seed=seed,
                                           epochs=cfg.irl.probe_epochs, lr=cfg.irl.probe_lr,
                                           batch_size=cfg.irl.batch_size)
                for split, pool in pools.items():
                    auc[split].append(metrics.reward_vs_judge(probe(feats[split][layer]), pool.p_judge.values)["auc"])
            rows.append({"size": size, "layer": layer, "layers": n_layers, "loss": loss,
                         "val_auc": round(float(np.mean(auc["val"])), 3),
                         "test_auc": round(float(np.mean(auc["test"])), 3)})
            print(rows[-1], flush=True)
store.write_experiment("probe_layers", rows, cfg)
