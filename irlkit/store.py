"""Run folders, atomic writes, manifests, and skip-if-done stages.

A stage's artifact is a folder. It is built in a hidden `.NAME.partial` folder,
its `manifest.json` is written last, and only then is the folder renamed into
place. So a folder with a manifest is always complete, and a killed run leaves
at most a `.partial` folder that the next run throws away.

    path = store.stage(runs / "rlhf" / "tiny-a", key={...}, seed=0, build=train_into)
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from irlkit import __version__, progress
from irlkit.config import stable_hash

_log = logging.getLogger(__name__)  # stage skips: debug (IRLKIT_LOG_LEVEL=DEBUG shows them)

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


def rounded(values, digits: int = 5) -> list:
    """`values` as nested lists of floats kept to `digits` significant digits: for long arrays that are read by their
    ranks or correlations (rewards on shared texts, agreement matrices), at a third of their size in a JSON file."""
    return [rounded(v, digits) if hasattr(v, "__len__") else float(f"{v:.{digits}g}") for v in values]


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


HASH = "sha256"
"""Content hash of the files a stage writes: SHA-256, the faster of SHA-256 and BLAKE2b on these CPUs
(SHA extensions; benchmarks/README.md, `bench_hashing.py`)."""
VERIFY_ONCE_ABOVE = 64 << 20
"""Files above this size are hashed once per process (then trusted while size and mtime stay); smaller
ones every time a stage is found done."""
_verified: set = set()


def file_hash(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, HASH).hexdigest()


def content_hashes(folder: Path) -> dict[str, str]:
    """{relative path: content hash} of every file under `folder` but its manifest."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): file_hash(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def damaged(path: Path, manifest: dict) -> str | None:
    """What is wrong with a finished stage's files against its manifest (None: nothing): a file missing,
    unreadable or changed since it was built. A manifest from before content hashes counts as unverifiable."""
    files = manifest.get("files")
    if files is None:
        return "its manifest records no content hashes (built by an older irlkit)"
    for name, expected in files.items():
        f = Path(path) / name
        try:
            st = f.stat()
            stamp = (str(f), st.st_size, st.st_mtime_ns, expected)
            if stamp in _verified:
                continue
            if file_hash(f) != expected:
                return f"{name} changed since it was built"
            if st.st_size > VERIFY_ONCE_ABOVE:
                _verified.add(stamp)
        except OSError as e:
            return f"{name} is missing or unreadable ({type(e).__name__})"
    return None


def is_done(path: Path, key: dict) -> bool:
    """True when `path` holds a finished artifact built from exactly `key` (its files not verified)."""
    m = manifest_of(path)
    return m is not None and m.get("key_hash") == stable_hash(key)


@contextlib.contextmanager
def locked(lock_file: Path, waiting: str = ""):
    """Hold an exclusive lock on `lock_file` (created if missing) while the block runs; processes that want the same
    lock wait (printing `waiting` once, if given). The OS releases it when the holder dies, even by kill -9."""
    import fcntl

    lock_file = Path(lock_file)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock_file, "a")
    except OSError:  # a read-only data folder: nothing can be built there, so there is nothing to lock
        yield
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                progress.line(waiting)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def stage(path: Path, key: dict, build: Callable[[Path], None], *, seed: int, log: Callable[[str], None] = print,
          skipped: Callable[[str], None] | None = None) -> Path:
    """Build the artifact folder `path` with `build(tmp_folder)` unless it is already done.

    `key` is everything the artifact depends on (config sections, upstream manifests'
    hashes); a different key rebuilds it. A finished artifact is verified against the content hashes
    in its manifest before it is trusted; a damaged one is rebuilt, with one line naming the file.
    Processes that reach the same stage at once (replicates side by side, sharing the start policy's stages)
    build it once: the others wait for its lock, then find it done. `log` gets the build's lines, `skipped` the
    line saying a finished stage was reused (default: irlkit's logger at DEBUG). Returns `path`.
    """
    path = Path(path)
    with locked(path.parent / f".{path.name}.lock", waiting=f"[wait] {path.parent.name}/{path.name}: "
                                                              "another process is building it"):
        return _stage(path, key, build, seed=seed, log=log, skipped=skipped or _log.debug)


def _stage(path: Path, key: dict, build: Callable[[Path], None], *, seed: int, log: Callable[[str], None],
           skipped: Callable[[str], None]) -> Path:
    if is_done(path, key):
        problem = damaged(path, manifest_of(path))
        if problem is None:
            skipped(f"[skip] {path.name}: finished artifact with the same manifest at {path}")
            return path
        progress.line(f"[rebuild] {path.parent.name}/{path.name}: {problem}")  # on the terminal, not only in a log
    elif path.exists():  # a folder that is not this stage as the key asks: say why it is built again
        m = manifest_of(path)
        why = ("its manifest.json cannot be read" if m is None and (path / MANIFEST).exists() else
               f"no {MANIFEST} (a build that did not finish)" if m is None else
               "built from other settings or inputs than this run's")
        progress.line(f"[rebuild] {path.parent.name}/{path.name}: {why}")
    partial = path.parent / f".{path.name}.{os.getpid()}.partial"  # this process's own: never another's
    _remove_stale_partials(path)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    t0 = time.perf_counter()
    what = f"{path.parent.name}/{path.name}"
    progress.line(f"[stage] {what}: building")
    build(partial)
    manifest = {**make_manifest(key, seed), "build_seconds": round(time.perf_counter() - t0, 2),
                "files": content_hashes(partial)}
    atomic_write_json(partial / MANIFEST, manifest)
    if path.exists():
        shutil.rmtree(path)
    os.replace(partial, path)
    progress.line(f"[stage] {what}: built in {progress.duration(manifest['build_seconds'])}")
    return path


def _remove_stale_partials(path: Path) -> None:
    """Throw away partial folders of `path` left by processes that are gone (a killed run)."""
    for stale in path.parent.glob(f".{path.name}.*.partial"):
        pid = stale.name[len(path.name) + 2:-len(".partial")]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_result(path: Path, obj: dict, cfg) -> Path:
    """A results JSON with its provenance under `_manifest`. A file that already holds the same results from the
    same config is left as it is (only its creation time would change): reading results never rewrites them."""
    new = {**obj, "_manifest": make_manifest({"config": cfg.hash()}, cfg.seed)}
    try:
        old = json.loads(Path(path).read_text())
        same = json.loads(json.dumps(new, default=_json_default))
        for d in (old, same):
            d["_manifest"].pop("created", None)
        if old == same:
            return Path(path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return atomic_write_json(path, new)


def write_experiment(name: str, obj, cfg=None) -> Path:
    """An experiment's result (`scripts/experiments/`) as data/results/experiments/<name>.json, with its
    provenance (`measurement`)."""
    from irlkit import layout

    return atomic_write_json(layout.experiment_result(name), {"result": obj, "_manifest": measurement(cfg)})


def write_benchmark(name: str, obj, cfg=None) -> Path:
    """A benchmark's result (`benchmarks/`) as data/results/bench/<name>.json, with its provenance (`measurement`)."""
    from irlkit import layout

    return atomic_write_json(layout.bench_result(name), {"result": obj, "_manifest": measurement(cfg)})


def measurement(cfg=None) -> dict:
    """The provenance of a measurement: the command that made it, the commit it ran on (and the tracked files
    changed since), the code and config hashes."""
    import subprocess

    from irlkit import layout, provenance

    def git(*args):
        return subprocess.run(["git", "-C", str(layout.ROOT), *args], capture_output=True, text=True).stdout.strip()

    return {**make_manifest({"config": cfg.hash() if cfg else None}, cfg.seed if cfg else 0),
            "command": " ".join(["python", *sys.argv]), "commit": git("rev-parse", "--short", "HEAD"),
            "code_hash": provenance.code_hash(),  # the replicates' code it ran on, committed or not
            "uncommitted": git("status", "--porcelain", "--untracked-files=no").splitlines()}
