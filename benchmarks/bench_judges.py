"""Texts per second of each judge on batches of 256 comments (median of repeats), and ToxBlock's FLOP/s.

    .venv/bin/python benchmarks/bench_judges.py [--repeats 3] [--name bench_judges]

The judges are the pipeline's scoring stage (the RLOO reward, every evaluation). Neither is a transformer:
ToxBlock is a 50-unit bidirectional LSTM over 50-dimensional embeddings (a torch port), whose recurrence is a
chain of tiny matmuls, one time step after another; profanity-check is a linear SVM on TF-IDF (scikit-learn).
For ToxBlock, torch's `FlopCounterMode` counts the FLOPs of one pass over the texts, so its FLOP/s can be put
beside the machine's fp32 peak (`bench_peak.py`). Writes data/results/bench/<name>.json.
"""
import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from irlkit import config, store
from irlkit.data import _insults_raw
from irlkit.judges import ProfanityCheckJudge, ToxBlockJudge

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--name", default="bench_judges")
args = parser.parse_args()
torch.set_num_threads(2)
texts = list(_insults_raw().text[:2048])
out = {"texts": len(texts), "repeats": args.repeats, "judges": {}}
for judge in (ToxBlockJudge(batch_size=256), ProfanityCheckJudge()):
    seconds = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        judge.score(texts)
        seconds.append(time.perf_counter() - t0)
    row = {"seconds": seconds, "texts_per_second": len(texts) / statistics.median(seconds)}
    if isinstance(judge, ToxBlockJudge):
        with FlopCounterMode(display=False) as counter:
            judge.score(texts)
        row["gflop"] = counter.get_total_flops() / 1e9
        row["gflop_per_second"] = row["gflop"] / statistics.median(seconds)
    out["judges"][judge.name] = row
    print(f"{judge.name:>16}: median {row['texts_per_second']:8.0f} texts/s  runs {[round(len(texts) / s) for s in seconds]}"
          + (f"  {row['gflop']:.2f} GFLOP, {row['gflop_per_second']:.1f} GFLOP/s" if "gflop" in row else ""))
print(store.write_benchmark(args.name, out, config.load("cpu", progress=False)))
