"""The probe sweep of one (size, loss) as 03 runs it (20 seeds × 30 epochs, validation metrics every
epoch): one seed at a time against all seeds side by side (`irl.train_probes`), in one process on a
finished cpu run's cached features, one torch thread each (what 03 uses: a linear head on batches of
8 pairs is a string of tiny operations, and a second thread adds synchronisation, not arithmetic).

    .venv/bin/python benchmarks/bench_probe_sweep.py gemma3-270m --repeats 3

Prints the median seconds of each variant, the ratio, and how far apart their rewards are."""
import argparse
import statistics
import time

import numpy as np
import torch

from irlkit import config, irl, stages

parser = argparse.ArgumentParser()
parser.add_argument("size")
parser.add_argument("--loss", default="logistic")
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()

cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
ic = cfg.irl
demos = stages.artifacts.demos(ctx, args.size)
feats = dict(np.load(ctx.layout.features(args.size) / "features.npz"))
val_pool = irl.text_pool(demos, "val", ic.with_prompt)
train = dict(loss=args.loss, epochs=ic.probe_epochs, lr=ic.probe_lr, batch_size=ic.batch_size,
             weight_decay=ic.probe_weight_decay)
seeds = list(range(ic.probe_seeds))


def val(probe) -> dict:
    return stages.recovery.val_metrics(probe(feats["val_pool"]), val_pool)


def one_at_a_time() -> np.ndarray:
    probes = [irl.train_probe(feats["train_expert"], feats["train_start"], seed=seed, on_epoch=lambda e, p: val(p),
                              **train)[0] for seed in seeds]
    return np.array([p(feats["test_pool"]) for p in probes])


def side_by_side() -> np.ndarray:
    probes, _ = irl.train_probes(feats["train_expert"], feats["train_start"], seeds=seeds,
                                 on_epoch=lambda e, ps: [val(p) for p in ps], **train)
    return np.array([p(feats["test_pool"]) for p in probes])


torch.set_num_threads(1)
variants = {"one seed at a time": one_at_a_time, "all seeds side by side": side_by_side}
seconds, rewards = {name: [] for name in variants}, {}
for _ in range(args.repeats):
    for name, sweep in variants.items():
        t0 = time.perf_counter()
        rewards[name] = sweep()
        seconds[name].append(time.perf_counter() - t0)
        print(f"{name}: {seconds[name][-1]:.1f} s", flush=True)

naive, ours = (statistics.median(v) for v in seconds.values())
a, b = rewards.values()
print(f"\n{args.size} probe/{args.loss}, {ic.probe_seeds} seeds × {ic.probe_epochs} epochs, "
      f"{len(feats['train_expert'])} pairs, 1 thread: median {naive:.1f} s one seed at a time, {ours:.1f} s side by "
      f"side ({naive / ours:.2f}×); rewards max |difference| {np.abs(a - b).max():.2e} (rewards span {np.ptp(a):.2f})")
