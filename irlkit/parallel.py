"""Independent jobs side by side: `workers` processes, each with threads // workers torch threads.

On 2 CPU cores one process with two torch threads leaves much of the second core idle (small
matrices, token-by-token generation); two one-thread processes, each on its own RLOO run, do about
1.6× the work in the same time (benchmarks/bench_workers.py). Every job builds its artifacts through
`store.stage`, so the caller afterwards reads them as finished stages: a job returns nothing.

    parallel.run([("gemma3-270m-irl", functools.partial(train, cfg, "gemma3-270m")), ...], workers=2, threads=2)

Jobs start in list order (longest first balances best). The first failing job stops the others;
what finished stays on disk, and a re-run resumes from it.
"""
from __future__ import annotations

import multiprocessing
import time
from typing import Callable


def run(jobs: list[tuple[str, Callable[[], None]]], *, workers: int, threads: int, log=print) -> dict[str, float]:
    """Call every `(name, job)`; with `workers` > 1 in fresh processes. Returns wall seconds per job."""
    workers = min(workers, len(jobs))
    if workers <= 1:
        return dict(_timed(name, job) for name, job in jobs)
    per_worker = max(1, threads // workers)
    log(f"[parallel] {len(jobs)} jobs in {workers} processes × {per_worker} torch thread(s): "
        + ", ".join(name for name, _ in jobs))
    # spawn, not fork: a forked copy of a process that has already run torch can hang in its thread pools
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init, initargs=(per_worker,)) as pool:
        seconds = {}
        try:
            for name, s in pool.imap_unordered(_call, jobs):
                seconds[name] = s
                log(f"[parallel] {name} done in {s:.0f} s")
        except BaseException:
            pool.terminate()  # a failed job (or Ctrl-C) stops the others; finished stages stay
            raise
    return {name: seconds[name] for name, _ in jobs}


def _init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _call(named_job: tuple[str, Callable[[], None]]) -> tuple[str, float]:
    name, job = named_job
    try:
        return _timed(name, job)
    except Exception as e:  # the parent shows the job's name beside the worker's error
        raise RuntimeError(f"parallel job {name!r} failed: {type(e).__name__}: {e}") from e


def _timed(name: str, job: Callable[[], None]) -> tuple[str, float]:
    t0 = time.perf_counter()
    job()
    return name, round(time.perf_counter() - t0, 1)
