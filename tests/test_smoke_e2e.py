"""The whole smoke profile through papermill: artifacts, resume, same seed → same numbers."""
import json
import shutil
import time

import pytest

from irlkit import paths, runner


@pytest.mark.slow
def test_smoke_profile_end_to_end(data_home, capsys):
    timings = runner.run("smoke")
    results, figures = paths.results_dir("smoke"), paths.figures_dir("smoke")
    for name in ("judges", "rlhf", "sampling", "irl", "refinetune", "timings"):
        assert (results / f"{name}.json").exists(), name
    for nb in runner.NOTEBOOKS:
        assert (paths.runs_dir("smoke") / "notebooks" / f"{nb}.ipynb").exists() and timings[nb] > 0
    for fig in ("rlhf_curves", "toxicity_by_stage", "irl_metrics", "non_identifiability_heatmap", "size_effect",
                "irl_seed_agreement", "irl_confusions", "refinetune_curves"):
        assert (figures / f"{fig}.png").exists() and (figures / f"{fig}.pdf").exists(), fig

    irl = json.loads((results / "irl.json").read_text())["sizes"]
    for size in ("tiny-a", "tiny-b"):
        models = irl[size]["models"]
        assert {"probe/max_margin", "probe/hinge", "probe/logistic", "full/max_margin"} <= set(models)
        assert models["probe/logistic"]["n_seeds"] == 3 and len(models["probe/logistic"]["seed_agreement"]) == 3
    refinetune = json.loads((results / "refinetune.json").read_text())["sizes"]
    assert {"true", "irl", "random", "transfer_from_tiny-b"} <= set(refinetune["tiny-a"])
    for name, runs in (("true", 2), ("irl", 2), ("random", 3)):  # smoke: 2 RLOO runs per reward, 3 random heads
        assert [r["seed"] for r in refinetune["tiny-a"][name]["runs"]] == list(range(runs))
        assert refinetune["tiny-a"][name]["across_runs"]["judge"]["ratio_diff"]["runs"] == runs
    heads = {r["reward_model"]["random_seed"] for r in refinetune["tiny-a"]["random"]["runs"]}
    assert len(heads) == 3
    first_rlhf = json.loads((results / "rlhf.json").read_text())["sizes"]

    # a second run resumes: every stage is skipped
    t0 = time.time()
    runner.run("smoke", only=("01_rlhf", "02_sampling", "03_irl"))
    assert time.time() - t0 < 90
    executed = (paths.runs_dir("smoke") / "notebooks" / "03_irl.ipynb").read_text()
    assert "[skip]" in executed and "[irl full]" not in executed

    # same seed, retrained from scratch: the same numbers
    shutil.rmtree(paths.runs_dir("smoke") / "policies" / "tiny-a-rlhf")
    shutil.rmtree(paths.runs_dir("smoke") / "texts" / "tiny-a-rlhf")
    runner.run("smoke", only=("01_rlhf",))
    again = json.loads((results / "rlhf.json").read_text())["sizes"]
    for key in ("judge", "second", "perplexity"):
        assert again["tiny-a"][key] == first_rlhf["tiny-a"][key]


def test_a_failing_notebook_stops_the_run_with_its_name(data_home, capsys):
    with pytest.raises(SystemExit) as stop:
        runner.run("smoke", only=("01_rlhf",), parameters={"OVERRIDES": {"rlhf.beta": 0.0}})
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "01_rlhf" in err and "beta must be > 0" in err
