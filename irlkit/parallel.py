"""Independent jobs side by side: `workers` processes, each with threads // workers torch threads.

On 2 CPU cores one process with two torch threads leaves much of the second core idle (small
matrices, token-by-token generation); two one-thread processes, each on its own RLOO run, do more
work in the same time (benchmarks/README.md, `bench_workers.py`). Every job builds its artifacts
through `store.stage`, so the caller afterwards reads them as finished stages: a job returns nothing.

    parallel.run([("gemma3-270m-irl", functools.partial(train, cfg, "gemma3-270m")), ...], workers=2, threads=2,
                 log_file=lambda name: logs / f"{name}.log")

Jobs start in list order (longest first balances best), each as soon as a worker is free and the job
it waits for (`after={name: earlier job's name}`) has finished: a policy's evaluation can then take the
worker its training left idle. A worker writes each job's output (its own prints, TRL's and
transformers' messages) to `log_file(name)`, not to the caller's terminal or notebook. The first failing
job stops the others, and so does a worker that dies (`WorkerDied`: the out-of-memory killer); what finished
stays on disk, and a re-run resumes from it.

The worker processes outlive a call: the next call of this process with the same shape reuses them,
so the libraries are imported once per kernel, not once per stage (a pool that failed is not reused).
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.pool
import os
import queue
import sys
import time
from pathlib import Path
from typing import Callable

from irlkit import progress

_log = logging.getLogger(__name__)  # which jobs run where: debug (IRLKIT_LOG_LEVEL=DEBUG shows it)


def run(jobs: list[tuple[str, Callable[[], None]]], *, workers: int, threads: int,
        log_file: Callable[[str], Path] | None = None, after: dict[str, str] | None = None) -> dict[str, float]:
    """Call every `(name, job)`; with `workers` > 1 in fresh processes, each job's output going to
    `log_file(name)` (default: the caller's own output). `after[name]`: the earlier job that job `name`
    waits for. Returns wall seconds per job, in list order."""
    after = after or {}
    names = [name for name, _ in jobs]
    for name, first in after.items():
        if name not in names or first not in names[:names.index(name)]:
            raise ValueError(f"job {name!r} waits for {first!r}, which is not an earlier job of {names}")
    workers = min(workers, len(jobs))
    if workers <= 1:
        return dict(_timed(name, job) for name, job in jobs)
    per_worker = max(1, threads // workers)
    _log.debug(f"[parallel] {len(jobs)} jobs in {workers} processes × {per_worker} torch thread(s): "
        + ", ".join(name for name, _ in jobs)
        + (f"; their logs: {log_file(jobs[0][0]).parent}" if log_file else ""))
    waiting = [(name, job, str(log_file(name)) if log_file else None) for name, job in jobs]
    finished = queue.SimpleQueue()  # (name, seconds) or the exception a job raised
    seconds, running = {}, set()
    ready = lambda name: name not in after or after[name] in seconds  # noqa: E731
    pool = _pool(workers, per_worker)
    processes = {p for p in pool._pool if p.exitcode is None}  # the workers that may run this call's jobs
    try:
        while waiting or running:
            for named_job in [j for j in waiting if ready(j[0])]:
                if len(running) == workers:
                    break
                waiting.remove(named_job)
                running.add(named_job[0])
                pool.apply_async(_call, (named_job, os.environ.get(progress.ENV)),
                                 callback=finished.put, error_callback=finished.put)
            outcome = _next_outcome(finished, pool, processes, running)
            if isinstance(outcome, BaseException):
                raise outcome
            name, s = outcome
            running.discard(name)
            seconds[name] = s
            _log.debug(f"[parallel] {name} done in {s:.0f} s")
    except BaseException:
        del _pools[workers, per_worker]
        pool.terminate()  # a failed job (or Ctrl-C) stops the others; finished stages stay
        raise
    return {name: seconds[name] for name in names}


class WorkerDied(RuntimeError):
    """A worker process ended while running jobs (killed: the out-of-memory killer, a kill -9)."""


def _next_outcome(finished: queue.SimpleQueue, pool, processes: set, running: set, poll_seconds: float = 2.0):
    """The next finished job's outcome. multiprocessing's pool replaces a worker that dies and drops the job it was
    running, so a plain wait would never end: every `poll_seconds` this checks the workers (`processes`, to which
    replacements are added) and raises `WorkerDied` naming the jobs that were running."""
    while True:
        try:
            return finished.get(timeout=poll_seconds)
        except queue.Empty:
            processes |= set(pool._pool)
            dead = [p for p in processes if p.exitcode is not None]
            if dead:
                code = dead[0].exitcode
                why = " (SIGKILL: the out-of-memory killer, or a kill -9)" if code == -9 else ""
                raise WorkerDied(f"a worker process ended with exit code {code}{why} while {', '.join(sorted(running))} "
                                 f"ran: finished stages are kept; free memory (or run fewer jobs at once) and rerun")


_pools: dict[tuple[int, int], multiprocessing.pool.Pool] = {}
"""This process's worker pools, by (workers, torch threads each)."""


def _pool(workers: int, threads: int) -> multiprocessing.pool.Pool:
    if (workers, threads) not in _pools:
        # spawn, not fork: a forked copy of a process that has already run torch can hang in its thread pools
        _pools[workers, threads] = multiprocessing.get_context("spawn").Pool(
            workers, initializer=_init, initargs=(threads, os.getpid()))
    return _pools[workers, threads]


def _init(threads: int, parent: int) -> None:
    exit_with_parent(parent)  # first: a worker whose parent was killed stops instead of writing stages on
    import torch

    from irlkit.utils import quiet_libraries

    torch.set_num_threads(threads)
    quiet_libraries()


def _call(named_job: tuple[str, Callable[[], None], str | None], progress_log: str | None) -> tuple[str, float]:
    name, job, log_path = named_job
    if progress_log:  # the caller's at this call: a reused worker was started for an earlier one
        os.environ[progress.ENV] = progress_log
    else:
        os.environ.pop(progress.ENV, None)
    try:
        with output_to(log_path) if log_path else contextlib.nullcontext():
            return _timed(name, job)
    except Exception as e:  # the parent shows the job's name beside the worker's error
        where = f" (its log: {log_path})" if log_path else ""
        raise RuntimeError(f"parallel job {name!r} failed: {type(e).__name__}: {e}{where}") from e


@contextlib.contextmanager
def output_to(path: str):
    """Point this process's stdout and stderr (the file descriptors: C libraries and logging
    handlers included) at `path`, appending, for the duration of the block."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as f:
        os.dup2(f.fileno(), 1), os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def _timed(name: str, job: Callable[[], None]) -> tuple[str, float]:
    t0 = time.perf_counter()
    job()
    return name, round(time.perf_counter() - t0, 1)


_watching = []


def exit_with_parent(parent: int | None = None, poll_seconds: float = 0.5) -> None:
    """End this process when the process that started it dies (a notebook kernel when its runner is killed,
    a worker when its kernel is), so nothing goes on writing stages after a kill -9. `parent`: the pid
    that started it, known before it could die (a pool passes its own; a Jupyter kernel reads
    JPY_PARENT_PID); default the current parent. Idempotent."""
    import threading

    if _watching:
        return
    if parent is None:
        parent = int(os.environ.get("JPY_PARENT_PID", os.getppid()))
    if os.getppid() != parent:
        os._exit(1)  # the parent died while this process was starting
    _watching.append(parent)

    def watch():
        while os.getppid() == parent:
            threading.Event().wait(poll_seconds)
        os._exit(1)  # reparented: the parent is gone

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
