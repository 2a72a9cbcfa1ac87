"""The whole smoke profile through papermill: artifacts, resume, same seed → same numbers."""
import json
import shutil
import time

import pytest

from irlkit import runner
from irlkit.layout import Layout

FIGURES_SHOWN = {"01_rlhf": 1, "02_sampling": 1, "03_irl": 2, "04_eval": 3, "05_refinetune": 1, "06_analysis": 8}
"""How many figures each executed notebook must display inline."""


def _images(notebook) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in out.get("data", {}) for cell in cells for out in cell.get("outputs", []))


@pytest.mark.slow
def test_smoke_profile_end_to_end(data_home, tmp_path, monkeypatch, capsys):
    timings = runner.run("smoke")
    where = Layout("smoke")
    for name in ("judges", "rlhf", "sampling", "irl", "refinetune", "timings"):
        assert where.result(name).exists(), name
    for name in ("rlhf_curves", "refinetune_curves", "irl_history"):
        assert where.table(name).exists(), name
    for nb in runner.NOTEBOOKS:
        executed = where.notebooks / f"{nb}.ipynb"
        assert executed.exists() and timings[nb] > 0
        assert _images(executed) == FIGURES_SHOWN[nb], f"{nb} shows {_images(executed)} figures inline"
    for fig in ("rlhf_curves", "toxicity_by_stage", "irl_metrics", "non_identifiability_heatmap", "size_effect",
                "irl_seed_agreement", "irl_confusions", "refinetune_curves", "demo_scores"):
        assert (where.figures / f"{fig}.png").exists() and (where.figures / f"{fig}.pdf").exists(), fig
    assert any(where.logs.glob("*.log")), "worker output goes to per-job log files"
    assert "[rlhf]" not in (where.notebooks / "01_rlhf.ipynb").read_text(), "worker logs stay out of the notebook"

    irl = json.loads(where.result("irl").read_text())["sizes"]
    for size in ("tiny-a", "tiny-b"):
        models = irl[size]["models"]
        assert {"probe/max_margin", "probe/hinge", "probe/logistic", "full/max_margin"} <= set(models)
        assert models["probe/logistic"]["n_seeds"] == 3 and len(models["probe/logistic"]["seed_agreement"]) == 3
    refinetune = json.loads(where.result("refinetune").read_text())["sizes"]
    assert {"true", "irl", "random", "transfer_from_tiny-b"} <= set(refinetune["tiny-a"])
    for name, runs in (("true", 2), ("irl", 2), ("random", 3)):  # smoke: 2 RLOO runs per reward, 3 random heads
        assert [r["seed"] for r in refinetune["tiny-a"][name]["runs"]] == list(range(runs))
        assert refinetune["tiny-a"][name]["across_runs"]["judge"]["ratio_diff"]["runs"] == runs
    heads = {r["reward_model"]["random_seed"] for r in refinetune["tiny-a"]["random"]["runs"]}
    assert len(heads) == 3
    first_rlhf = json.loads(where.result("rlhf").read_text())["sizes"]

    # a second run resumes: every stage is skipped
    t0 = time.time()
    runner.run("smoke", only=("01_rlhf", "02_sampling", "03_irl"))
    assert time.time() - t0 < 90
    executed = (where.notebooks / "03_irl.ipynb").read_text()
    assert "[skip]" in executed and "[irl full]" not in executed

    # same seed, retrained from scratch: the same numbers
    shutil.rmtree(where.policy("tiny-a-rlhf"))
    shutil.rmtree(where.texts("tiny-a-rlhf"))
    runner.run("smoke", only=("01_rlhf",))
    again = json.loads(where.result("rlhf").read_text())["sizes"]
    for key in ("judge", "second", "perplexity"):
        assert again["tiny-a"][key] == first_rlhf["tiny-a"][key]

    # 06 needs nothing but the results folder: a fresh clone has no run folder and no assets
    clone = tmp_path / "clone-data"
    shutil.copytree(where.results, clone / "results" / "smoke")
    monkeypatch.setenv("IRLKIT_DATA", str(clone))
    monkeypatch.setenv("IRLKIT_FIGURES", str(tmp_path / "clone-figures"))
    runner.run("smoke", only=("06_analysis",))
    fresh = Layout("smoke")
    assert _images(fresh.notebooks / "06_analysis.ipynb") == FIGURES_SHOWN["06_analysis"]
    assert (fresh.figures / "non_identifiability_heatmap.png").exists() and fresh.report.exists()


def test_a_failing_notebook_stops_the_run_with_its_name(data_home, capsys):
    with pytest.raises(SystemExit) as stop:
        runner.run("smoke", only=("01_rlhf",), parameters={"OVERRIDES": {"rlhf.beta": 0.0}})
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "01_rlhf" in err and "beta must be > 0" in err
