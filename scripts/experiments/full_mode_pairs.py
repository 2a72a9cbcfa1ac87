"""Does full mode, the one mode that learns its own features, recover more with all the training pairs?
The cpu profile fine-tunes each seed on the first `irl.full_max_pairs` (64) pairs for one epoch; this trains
the same reward model (same loss, learning rates and batch size) on the first N pairs for E epochs, from a
finished cpu run's demonstrations, and prints val and test ROC-AUC against the judge per seed.

    .venv/bin/python scripts/experiments/full_mode_pairs.py smollm2-135m --pairs 660 --epochs 1 --seeds 0 1

Writes data/results/experiments/full_mode_pairs-<size>-<pairs>x<epochs>.json."""
import argparse
import tempfile
import time
from pathlib import Path


from irlkit import config, irl, metrics, stages, store

parser = argparse.ArgumentParser()
parser.add_argument("size")
parser.add_argument("--pairs", type=int, default=660)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--seeds", type=int, nargs="+", default=[0])
args = parser.parse_args()
size, n_pairs = args.size, args.pairs
cfg = config.load("cpu", progress=False, irl={"full_epochs": args.epochs})
ctx = stages.Context(cfg)
demos = stages.artifacts.demos(ctx, size)
texts = stages.recovery.texts(ctx, demos)
pools = {split: irl.text_pool(demos, split, cfg.irl.with_prompt) for split in ("val", "test")}
rows = []
for seed in args.seeds:
    began = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        model, tok, _ = irl.train_full(ctx.start(size), texts["train_expert"][:n_pairs],
                                       texts["train_start"][:n_pairs], loss="max_margin", seed=seed, cfg=cfg,
                                       out=Path(tmp))
    auc = {split: metrics.reward_vs_judge(irl.score_texts(model, tok, texts[f"{split}_pool"],
                                                          max_length=cfg.irl.max_length), pool.p_judge.values)["auc"]
           for split, pool in pools.items()}
    rows.append({"size": size, "pairs": n_pairs, "epochs": args.epochs, "seed": seed, "val_auc": round(auc["val"], 3),
                 "test_auc": round(auc["test"], 3), "seconds": round(time.time() - began)})
    print(rows[-1], flush=True)
store.write_experiment(f"full_mode_pairs-{size}-{n_pairs}x{args.epochs}", rows, cfg)
