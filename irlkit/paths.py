"""Every path the compendium uses, built in one place.

`IRLKIT_DATA` moves the data folder (tests use it to stay out of the checkout);
`IRLKIT_FIGURES` does the same for figures.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def data_dir() -> Path:
    return Path(os.environ.get("IRLKIT_DATA", ROOT / "data"))


def raw_dir() -> Path:
    """Downloaded registry archives and files extracted from them."""
    return data_dir() / "raw"


def models_dir() -> Path:
    """Converted base models (safetensors folders) and tiny smoke models."""
    return data_dir() / "models"


def runs_dir(profile: str) -> Path:
    """Everything a run of `profile` makes: checkpoints, logs, demonstrations."""
    return data_dir() / "runs" / profile


def results_dir(profile: str) -> Path:
    """Small JSON/CSV files the README and the figures read."""
    return data_dir() / "results" / profile


def figures_dir(profile: str) -> Path:
    return Path(os.environ.get("IRLKIT_FIGURES", ROOT / "figures")) / profile
