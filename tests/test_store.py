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
    assert not (tmp_path / ".artifact.partial").exists()


def test_folder_without_manifest_is_rebuilt(tmp_path):
    target = tmp_path / "artifact"
    target.mkdir()
    (target / "stale.txt").write_text("from a crashed older run")
    store.stage(target, {"k": 1}, lambda f: (f / "fresh.txt").write_text("x"), seed=0, log=lambda _: None)
    assert not (target / "stale.txt").exists() and (target / "fresh.txt").exists()


def test_key_of_unfinished_artifact_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the stage"):
        store.key_of(tmp_path / "missing")
