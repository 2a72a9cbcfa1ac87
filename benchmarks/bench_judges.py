"""Texts per second of each judge on batches of 256 comments (median of repeats).

    .venv/bin/python benchmarks/bench_judges.py
"""
import statistics
import time

import torch

from irlkit.data import _insults_raw
from irlkit.judges import ProfanityCheckJudge, ToxBlockJudge

torch.set_num_threads(2)
texts = list(_insults_raw().text[:2048])
for judge in (ToxBlockJudge(batch_size=256), ProfanityCheckJudge()):
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        judge.score(texts)
        runs.append(len(texts) / (time.perf_counter() - t0))
    print(f"{judge.name:>16}: median {statistics.median(runs):8.0f} texts/s  runs {[round(r) for r in runs]}")
