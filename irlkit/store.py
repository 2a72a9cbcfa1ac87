"""Run folders, atomic writes, manifests, and skip-if-done stages.

A stage's artifact is a folder. It is built in a hidden `.NAME.partial` folder,
its `manifest.json` is written last, and only then is the folder renamed into
place. So a folder with a manifest is always complete, and a killed run leaves
at most a `.partial` folder that the next run throws away.

    path = store.stage(runs / "rlhf" / "tiny-a", key={...}, seed=0, build=train_into)
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from irlkit import __version__
from irlkit.config import stable_hash

MANIFEST = "manifest.json"


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results and the README are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    if hasattr(o, "item"):  # numpy / torch scalars
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json(path: Path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the stage that writes it first (see run_all.sh)")
    return json.loads(path.read_text())


def make_manifest(key: dict, seed: int) -> dict:
    return {"key_hash": stable_hash(key), "key": key, "seed": seed,
            "irlkit_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def manifest_of(path: Path) -> dict | None:
    try:
        return json.loads((Path(path) / MANIFEST).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def is_done(path: Path, key: dict) -> bool:
    """True when `path` holds a finished artifact built from exactly `key`."""
    m = manifest_of(path)
    return m is not None and m.get("key_hash") == stable_hash(key)


def stage(path: Path, key: dict, build: Callable[[Path], None], *, seed: int, log: Callable[[str], None] = print) -> Path:
    """Build the artifact folder `path` with `build(tmp_folder)` unless it is already done.

    `key` is everything the artifact depends on (config sections, upstream manifests'
    hashes); a different key rebuilds it. Returns `path`.
    """
    path = Path(path)
    if is_done(path, key):
        log(f"[skip] {path.name}: finished artifact with the same manifest at {path}")
        return path
    partial = path.parent / f".{path.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    t0 = time.perf_counter()
    build(partial)
    manifest = {**make_manifest(key, seed), "build_seconds": round(time.perf_counter() - t0, 2)}
    atomic_write_json(partial / MANIFEST, manifest)
    if path.exists():
        shutil.rmtree(path)
    os.replace(partial, path)
    return path


def key_of(path: Path) -> str:
    """The key hash of a finished upstream artifact, to chain into a downstream key."""
    m = manifest_of(path)
    if m is None:
        raise FileNotFoundError(f"{path} is not a finished artifact (no {MANIFEST}): run the stage that builds it first")
    return m["key_hash"]


def write_result(path: Path, obj: dict, cfg) -> Path:
    """A results JSON with its provenance under `_manifest`."""
    return atomic_write_json(path, {**obj, "_manifest": make_manifest({"config": cfg.hash()}, cfg.seed)})


def write_experiment(name: str, obj, cfg=None) -> Path:
    """An experiment's result (`scripts/experiments/`) as data/results/experiments/<name>.json, with the
    command that made it, the commit it ran on and the config's hash under `_manifest`."""
    import subprocess
    import sys

    from irlkit import layout

    head = subprocess.run(["git", "-C", str(layout.ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    manifest = {**make_manifest({"config": cfg.hash() if cfg else None}, cfg.seed if cfg else 0),
                "command": " ".join(["python", *sys.argv]), "commit": head}
    return atomic_write_json(layout.experiment_result(name), {"result": obj, "_manifest": manifest})
