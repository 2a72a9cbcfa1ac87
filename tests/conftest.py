import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """A fresh data folder that still sees the fetched assets (raw/, models/) of the checkout."""
    from irlkit import layout

    real = ROOT / "data"
    home = tmp_path / "data"
    home.mkdir()
    for sub in ("raw", "models"):
        (real / sub).mkdir(parents=True, exist_ok=True)
        (home / sub).symlink_to(real / sub)
    monkeypatch.setenv("IRLKIT_DATA", str(home))
    monkeypatch.setenv("IRLKIT_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("IRLKIT_PAGES", str(tmp_path / "pages"))
    assert layout.data_dir() == home
    return home
