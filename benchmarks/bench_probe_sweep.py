"""The probe sweep of one (size, loss) as 03 runs it (20 seeds × 30 epochs, validation metrics every
epoch), with torch on 2 threads and on 1, side by side in one process on a finished cpu run's cached
features. A linear head on batches of 8 pairs is a string of tiny operations: a second thread adds
synchronisation, not arithmetic.

    .venv/bin/python benchmarks/bench_probe_sweep.py gemma3-270m --repeats 3

Prints the median seconds of each variant, the ratio, and whether the rewards are bit-identical."""
import argparse
import statistics
import time

import numpy as np
import torch

from irlkit import config, irl, pipeline

parser = argparse.ArgumentParser()
parser.add_argument("size")
parser.add_argument("--loss", default="logistic")
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()

cfg = config.load("cpu", progress=False)
ctx = pipeline.Context(cfg)
ic = cfg.irl
demos = pipeline.load_demos(ctx, args.size)
feats = dict(np.load(ctx.runs / "irl" / args.size / "features" / "features.npz"))
val_pool = irl.text_pool(demos, "val", ic.with_prompt)


def sweep() -> np.ndarray:
    rewards = []
    for seed in range(ic.probe_seeds):
        probe, _ = irl.train_probe(feats["train_expert"], feats["train_start"], loss=args.loss, seed=seed,
                                   epochs=ic.probe_epochs, lr=ic.probe_lr, batch_size=ic.batch_size,
                                   weight_decay=ic.probe_weight_decay,
                                   on_epoch=lambda epoch, p: pipeline.val_metrics(p(feats["val_pool"]), val_pool))
        rewards.append(probe(feats["test_pool"]))
    return np.array(rewards)


seconds, rewards = {2: [], 1: []}, {}
for _ in range(args.repeats):
    for threads in seconds:
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        rewards[threads] = sweep()
        seconds[threads].append(time.perf_counter() - t0)
        print(f"{threads} thread(s): {seconds[threads][-1]:.1f} s", flush=True)

two, one = statistics.median(seconds[2]), statistics.median(seconds[1])
print(f"\n{args.size} probe/{args.loss}, {ic.probe_seeds} seeds × {ic.probe_epochs} epochs, "
      f"{len(feats['train_expert'])} pairs: median {two:.1f} s on 2 threads, {one:.1f} s on 1 ({two / one:.2f}×); "
      f"rewards bit-identical: {np.array_equal(rewards[2], rewards[1])}, "
      f"max |difference| {np.abs(rewards[2] - rewards[1]).max():.2e}")
