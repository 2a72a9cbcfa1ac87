import json

import pytest

from irlkit import store


def test_atomic_write_leaves_no_temp_files(tmp_path):
    store.atomic_write_json(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_stage_builds_once_and_skips_when_manifest_matches(tmp_path):
    calls = []

    def build(folder):
        calls.append(1)
        (folder / "out.txt").write_text("done")

    target = tmp_path / "artifact"
    store.stage(target, {"k": 1}, build, seed=0, log=lambda _: None)
    store.stage(target, {"k": 1}, build, seed=0, log=lambda _: None)
    assert len(calls) == 1 and (target / "out.txt").read_text() == "done"
    manifest = store.manifest_of(target)
    assert manifest["seed"] == 0 and manifest["key"] == {"k": 1} and "irlkit_version" in manifest
    store.stage(target, {"k": 2}, build, seed=0, log=lambda _: None)  # a different key rebuilds
    assert len(calls) == 2


def test_a_killed_stage_is_never_trusted_and_resumes(tmp_path):
    target = tmp_path / "artifact"

    def killed(folder):
        (folder / "half.txt").write_text("half")
        raise KeyboardInterrupt  # the run is killed midway

    with pytest.raises(KeyboardInterrupt):
        store.stage(target, {"k": 1}, killed, seed=0)
    assert not target.exists() and not store.is_done(target, {"k": 1})

    built = []
    store.stage(target, {"k": 1}, lambda f: built.append((f / "ok.txt").write_text("ok")), seed=0, log=lambda _: None)
    assert built and sorted(p.name for p in target.iterdir()) == ["manifest.json", "ok.txt"]
    assert not list(tmp_path.glob(".artifact*.partial"))


def test_folder_without_manifest_is_rebuilt(tmp_path):
    target = tmp_path / "artifact"
    target.mkdir()
    (target / "stale.txt").write_text("from a crashed older run")
    store.stage(target, {"k": 1}, lambda f: (f / "fresh.txt").write_text("x"), seed=0, log=lambda _: None)
    assert not (target / "stale.txt").exists() and (target / "fresh.txt").exists()


def _built(tmp_path, name="artifact"):
    calls = []

    def build(folder):
        calls.append(1)
        (folder / "texts.parquet").write_bytes(b"0123456789" * 100)
        (folder / "sub").mkdir()
        (folder / "sub" / "rewards.npz").write_bytes(b"PK" + b"x" * 500)

    return tmp_path / name, build, calls


def test_manifest_records_content_hashes_and_a_changed_file_is_rebuilt_with_one_line(tmp_path, capsys):
    target, build, calls = _built(tmp_path)
    store.stage(target, {"k": 1}, build, seed=0, log=lambda _: None)
    files = store.manifest_of(target)["files"]
    assert set(files) == {"texts.parquet", "sub/rewards.npz"} and all(len(h) == 64 for h in files.values())
    store.stage(target, {"k": 1}, build, seed=0, log=lambda _: None)
    assert len(calls) == 1, "an intact stage is trusted"

    data = bytearray((target / "texts.parquet").read_bytes())
    data[10] ^= 0xFF  # one flipped byte
    (target / "texts.parquet").write_bytes(bytes(data))
    store.stage(target, {"k": 1}, build, seed=0, log=lambda _: None)
    warnings = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[stage]")]
    assert len(calls) == 2 and len(warnings) == 1 and "texts.parquet changed since it was built" in warnings[0]


def test_a_truncated_or_missing_file_is_rebuilt(tmp_path, capsys):
    target, build, calls = _built(tmp_path)
    store.stage(target, {"k": 1}, build, seed=0, log=lambda _: None)
    (target / "sub" / "rewards.npz").write_bytes(b"PK")  # truncated
    store.stage(target, {"k": 1}, build, seed=0, log=lambda _: None)
    (target / "texts.parquet").unlink()
    store.stage(target, {"k": 1}, build, seed=0, log=lambda _: None)
    err = capsys.readouterr().err
    assert len(calls) == 3 and "sub/rewards.npz changed" in err and "texts.parquet is missing" in err


def test_stale_partials_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f".artifact.{dead.pid}.partial").mkdir()
    (tmp_path / ".artifact.1.partial").mkdir()  # pid 1 is alive: another process's work in progress
    target, build, _ = _built(tmp_path)
    store.stage(target, {"k": 1}, build, seed=0, log=lambda _: None)
    assert not (tmp_path / f".artifact.{dead.pid}.partial").exists() and (tmp_path / ".artifact.1.partial").exists()


def test_a_reused_stage_is_a_debug_line_shown_only_when_asked(tmp_path, capsys, monkeypatch):
    from irlkit import utils

    def build(folder):
        (folder / "x.txt").write_text("1")

    monkeypatch.delenv("IRLKIT_LOG_LEVEL", raising=False)
    utils.setup_logging()
    store.stage(tmp_path / "a", {"k": 1}, build, seed=0, log=lambda _: None)
    store.stage(tmp_path / "a", {"k": 1}, build, seed=0, log=lambda _: None)
    assert "[skip]" not in capsys.readouterr().out
    monkeypatch.setenv("IRLKIT_LOG_LEVEL", "DEBUG")
    utils.setup_logging()
    store.stage(tmp_path / "a", {"k": 1}, build, seed=0, log=lambda _: None)
    assert "[skip] a: finished artifact" in capsys.readouterr().out
    monkeypatch.setenv("IRLKIT_LOG_LEVEL", "INFO")
    utils.setup_logging()


def test_a_stage_built_again_says_why_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("IRLKIT_PROGRESS_LOG", raising=False)

    def build(folder):
        (folder / "x.txt").write_text("1")

    store.stage(tmp_path / "a", {"k": 1}, build, seed=0, log=lambda _: None)
    store.stage(tmp_path / "a", {"k": 2}, build, seed=0, log=lambda _: None)
    assert "[rebuild] " + tmp_path.name + "/a: built from other settings or inputs" in capsys.readouterr().err
    (tmp_path / "a" / store.MANIFEST).write_text("{ not json")
    store.stage(tmp_path / "a", {"k": 2}, build, seed=0, log=lambda _: None)
    assert "a: its manifest.json cannot be read" in capsys.readouterr().err


def test_rounded_keeps_significant_digits_and_the_ranks_of_a_long_array():
    import numpy as np
    from scipy.stats import spearmanr

    assert store.rounded(np.array([0.123456789, -12345.678, 1e-7])) == [0.12346, -12346.0, 1e-07]
    assert store.rounded(np.eye(2) / 3, 4) == [[0.3333, 0.0], [0.0, 0.3333]]
    scores = np.random.default_rng(0).normal(size=2000)
    assert spearmanr(scores, store.rounded(scores)).statistic > 0.999999
