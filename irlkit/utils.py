"""Seeding, threads and progress bars: the conventions every stage shares."""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """random, numpy, torch and transformers, from one seed."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        from transformers import set_seed

        set_seed(seed)
    except ImportError:  # pragma: no cover - transformers is pinned
        pass


def quiet_libraries() -> None:
    """Silence what carries nothing for the reader: transformers' weight-loading bars and load reports,
    datasets' bars, tqdm's IProgress warning in notebooks without ipywidgets."""
    import warnings

    warnings.filterwarnings("ignore", message="IProgress not found")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - datasets is pinned
        pass




def setup_logging() -> None:
    """irlkit's `logging` lines as plain text on stdout, at the level `IRLKIT_LOG_LEVEL` names (default INFO: stage
    skips and which worker runs what are DEBUG, so notebooks and terminals show only the work done)."""
    import logging
    import sys

    logger = logging.getLogger("irlkit")
    logger.setLevel(os.environ.get("IRLKIT_LOG_LEVEL", "INFO").upper())
    handler = next((h for h in logger.handlers if getattr(h, "irlkit", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.irlkit = True
        logger.addHandler(handler)
    handler.setStream(sys.stdout)  # this process's stdout now (a notebook kernel's, a test's)
    logger.propagate = False


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with `n` torch threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def progress_enabled(cfg=None) -> bool:
    """Bars are off under papermill (IRLKIT_PROGRESS=0, set by the runner) or when the config says so."""
    if os.environ.get("IRLKIT_PROGRESS", "1") == "0":
        return False
    return True if cfg is None else bool(cfg.progress)


def progress(iterable=None, *, cfg=None, **kwargs):
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not progress_enabled(cfg), **kwargs)
