"""Progress of long work as plain lines in the terminal that runs the study.

    counter = progress.Counter("[rlhf] gemma3-270m-rlhf", total=24, unit="step")
    for step in range(24):
        ...
        counter.update(step + 1)       # "[rlhf] gemma3-270m-rlhf: step 6/24, 1m 12s, ETA 3m 36s"

Work runs in notebook kernels and worker processes, whose output goes to the notebook and to log
files. So a line goes to the file named by `IRLKIT_PROGRESS_LOG` when the runner set it (the runner
prints that file as it grows), else to this process's stderr. Lines are short single writes in append
mode, so processes writing side by side never interleave within a line.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

ENV = "IRLKIT_PROGRESS_LOG"


def line(msg: str) -> None:
    path = os.environ.get(ENV)
    if path:
        with open(path, "a") as f:
            f.write(msg.rstrip("\n") + "\n")
    else:
        print(msg, file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Counter:
    """`done / total` of one piece of work with elapsed time and an ETA (from the mean pace so far),
    reported at the first update, then at most every `every` seconds, and at the end."""

    def __init__(self, what: str, total: int, unit: str = "step", every: float = 30.0):
        self.what, self.total, self.unit, self.every = what, total, unit, every
        self.t0 = time.monotonic()
        self.last = None

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.last is not None and done < self.total and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.t0
        eta = elapsed / done * (self.total - done) if done else float("nan")
        tail = "done" if done >= self.total else f"ETA {duration(eta)}"
        line(f"{self.what}: {self.unit} {done}/{self.total}, {duration(elapsed)}, {tail}")


@contextlib.contextmanager
def phase(what: str):
    """One line when a piece of work without steps starts and one with its wall time when it ends:
    `with progress.phase("[eval] gemma3-270m: posterior"): ...`."""
    t0 = time.monotonic()
    line(f"{what} ...")
    yield
    line(f"{what}: done in {duration(time.monotonic() - t0)}")


def trainer_callback(what: str, total: int):
    """A transformers `TrainerCallback` that reports optimiser steps done / total (RLOO, reward models)."""
    from transformers import TrainerCallback

    counter = Counter(what, total)

    class Steps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            counter.update(state.global_step)

    return Steps()
