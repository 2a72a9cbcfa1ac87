"""Do sampled demonstrations recover the reward better than greedy ones? From a finished cpu run's
policies: K continuations per train prompt at temperature T from the RLHF and the start policy, probes
trained on 1, 2 or K samples per prompt (each expert sample paired with every start sample of its prompt,
batches scaled so every setting takes the same number of steps), compared on VAL only with probes trained
on the run's greedy pairs. `val_auc_original`: against the judge on the human continuations alone.

    .venv/bin/python scripts/experiments/sampled_demos.py smollm2-135m 4 1.0

Writes data/results/experiments/sampled_demos-<size>.json (5 seeds per setting, mean validation metrics)."""
import sys
import time

import numpy as np
import pandas as pd

from irlkit import config, data, irl, metrics, models, sampling, stages, store

size, k, temperature = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
demos = stages.artifacts.demos(ctx, size)
train = data.split_of(ctx.prompts, "train")
val_pool = irl.text_pool(demos, "val", cfg.irl.with_prompt)
folder = ctx.start(size)
backbone, tok = models.load_backbone(folder), models.load_tokenizer(folder)
feats = lambda texts: irl.features(backbone, tok, texts, max_length=cfg.irl.max_length)  # noqa: E731

t0 = time.time()
sampled = {}  # side -> array [k, n_train] of feature rows
for side, policy in (("expert", str(ctx.layout.policy(f"{size}-rlhf"))), ("start", folder)):
    model, ptok = models.load_policy(policy)
    texts = [sampling.generate(model, ptok, list(train.prompt), max_new_tokens=cfg.sampling.max_new_tokens,
                               do_sample=True, temperature=temperature, seed=i, show_progress=False) for i in range(k)]
    sampled[side] = np.stack([feats(t) for t in texts])
    print(f"{side}: {k}×{len(train)} samples and features in {time.time() - t0:.0f} s", flush=True)

greedy = np.load(ctx.layout.features(size) / "features.npz")
val_features = greedy["val_pool"]
original = (val_pool.source == "original").values
settings = {"greedy": (greedy["train_expert"], greedy["train_start"], 1)}
for n in sorted({1, 2, k}):
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")  # every (expert sample, start sample) of a prompt
    settings[f"T={temperature:g}, {n} per prompt"] = (
        sampled["expert"][i.ravel()].reshape(-1, val_features.shape[1]),
        sampled["start"][j.ravel()].reshape(-1, val_features.shape[1]), n * n)
rows = []
for name, (fe, fs, pairs_per_prompt) in settings.items():
    for loss in ("max_margin", "logistic"):
        ms = []
        for seed in range(5):
            probe, _ = irl.train_probe(fe, fs, loss=loss, seed=seed, epochs=cfg.irl.probe_epochs,
                                       lr=cfg.irl.probe_lr, batch_size=cfg.irl.batch_size * pairs_per_prompt)
            reward = probe(val_features)
            ms.append({**stages.recovery.val_metrics(reward, val_pool), "val_auc_original": metrics.reward_vs_judge(
                reward[original], val_pool.p_judge.values[original])["auc"]})
        rows.append({"size": size, "demos": name, "pairs": len(fe), "loss": loss,
                     **pd.DataFrame(ms).mean().round(3).to_dict()})
        print(rows[-1], flush=True)
store.write_experiment(f"sampled_demos-{size}", rows, cfg)
