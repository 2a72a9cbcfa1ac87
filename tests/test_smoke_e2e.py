"""The whole smoke profile through papermill: artifacts, resume, same seed → same numbers."""
import json
import shutil

import pytest

from irlkit import runner
from irlkit.layout import Layout

FIGURES_SHOWN = {"01_rlhf": 1, "02_sampling": 1, "03_irl": 4, "04_eval": 6, "05_refinetune": 4, "06_analysis": 18}
"""How many figures each executed notebook must display inline."""


def irl_r0_models(rep) -> set:
    return set(json.loads(rep.result("irl").read_text())["sizes"]["tiny-a"]["models"])


def _images(notebook) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in out.get("data", {}) for cell in cells for out in cell.get("outputs", []))


def _warnings(notebook) -> list[str]:
    """The warnings an executed notebook shows (stderr lines naming a Warning): none is for its reader."""
    cells = json.loads(notebook.read_text())["cells"]
    return [line for cell in cells for out in cell.get("outputs", []) if out.get("name") == "stderr"
            for line in "".join(out.get("text", "")).splitlines() if "Warning" in line]


@pytest.mark.slow
def test_smoke_profile_end_to_end(data_home, tmp_path, monkeypatch, capsys):
    timings = runner.run("smoke")  # replicates r0 and r1 (01–05 each), then 06
    where, r0, r1 = Layout("smoke"), Layout("smoke", 0), Layout("smoke", 1)
    for rep in (r0, r1):
        for name in ("judges", "rlhf", "sampling", "irl", "refinetune", "manifest"):
            assert rep.result(name).exists(), (rep, name)
        for name in ("rlhf_curves", "refinetune_curves", "irl_history"):
            assert rep.table(name).exists(), name
        for nb in runner.PER_REPLICATE:
            executed = rep.notebooks / f"{nb}.ipynb"
            assert executed.exists() and timings["replicates"][f"r{rep.replicate}"][nb] > 0
            assert _images(executed) == FIGURES_SHOWN[nb], f"{nb} shows {_images(executed)} figures inline"
            assert not _warnings(executed), f"{nb} shows warnings: {_warnings(executed)[:3]}"
        assert any(rep.logs.glob("*.log")), "worker output goes to per-job log files"
        assert "[rlhf]" not in (rep.notebooks / "01_rlhf.ipynb").read_text(), "worker logs stay out of the notebook"
    assert _images(where.notebooks / "06_analysis.ipynb") == FIGURES_SHOWN["06_analysis"]
    assert timings["shared"], "the shared stages' time is recorded apart"
    for fig in ("rlhf_curves", "toxicity_by_stage", "recovery", "realignment", "realignment_comparisons", "irl_metrics", "size_effect",
                "posterior_auc", "contraction", "cross_replicate_agreement",
                "non_identifiability_heatmap", "irl_seed_agreement", "irl_confusions", "refinetune_curves"):
        assert (where.figures / f"{fig}.png").exists() and (where.figures / f"{fig}.pdf").exists(), fig
    for rep in (r0, r1):  # each replicate's own figures in its own folder, never over another's
        for fig in ("rlhf_curves", "demo_scores", "irl_seed_epoch_auc", "irl_metrics", "goal_recovery", "refinetune_curves"):
            assert (rep.figures / f"{fig}.png").exists(), (rep, fig)

    # two replicates: the same prompts, their own seeds, their own policies; start texts computed once
    m0, m1 = (json.loads(rep.manifest.read_text()) for rep in (r0, r1))
    assert m0["seed"] == 0 and m1["seed"] != 0 and m0["code_hash"] == m1["code_hash"]
    assert not r1.texts("tiny-a-start").exists() and r1.texts("tiny-a-start", shared=True).exists()
    summary = json.loads(where.summary.read_text())
    assert summary["n_replicates"] == 2
    agreement = summary["cross_replicate_agreement"]["tiny-a"]
    assert len(agreement["spearman"]) == 2 and -1 <= agreement["judge_plus_noise"] <= 1 and agreement["method"] in irl_r0_models(r0)
    irl_r0 = json.loads(r0.result("irl").read_text())["sizes"]["tiny-a"]
    assert {"posterior", "contraction", "bootstrap", "comparisons", "selected_reward", "oracle_reward", "source_only",
            "null_band", "halves", "shared_p_judge"} <= set(irl_r0)
    assert len(irl_r0["posterior"]["auc_samples"]["values"]) == 50 and "auc_model_text" in irl_r0["implicit"]["sum"]
    auc = summary["sizes"]["tiny-a"]["irl_auc"]
    assert auc["n"] == 2 and len(auc["values"]) == 2 and auc["mean"] == pytest.approx(sum(auc["values"]) / 2)
    pooled = summary["sizes"]["tiny-a"]["realign_endpoint_irl_vs_true_pooled_second"]  # 05 over replicates and prompts
    assert pooled["n"] == 2 and "equivalent" in pooled and set(summary["holm_families"]) == {"recovery", "re-alignment"}
    rlhf_r0, rlhf_r1 = (json.loads(rep.result("rlhf").read_text())["sizes"]["tiny-a"] for rep in (r0, r1))
    assert rlhf_r0["judge"]["before"] == rlhf_r1["judge"]["before"], "the start policy is shared"

    irl = json.loads(r0.result("irl").read_text())["sizes"]
    for size in ("tiny-a", "tiny-b"):
        models = irl[size]["models"]
        assert {"probe/max_margin", "probe/hinge", "probe/logistic", "full/max_margin"} <= set(models)
        assert models["probe/logistic"]["n_seeds"] == 3 and len(models["probe/logistic"]["seed_agreement"]) == 3
    refinetune = json.loads(r0.result("refinetune").read_text())["sizes"]
    assert {"true", "irl", "random", "transfer_from_tiny-b"} <= set(refinetune["tiny-a"])
    for name, runs in (("true", 2), ("irl", 2), ("random", 3)):  # smoke: 2 RLOO runs per reward, 3 random heads
        assert [r["seed"] for r in refinetune["tiny-a"][name]["runs"]] == list(range(runs))
        assert refinetune["tiny-a"][name]["across_runs"]["judge"]["ratio_diff"]["runs"] == runs
    heads = {r["reward_model"]["random_seed"] for r in refinetune["tiny-a"]["random"]["runs"]}
    assert len(heads) == 3
    # the primary endpoint: every arm's sampled continuations of the evaluation prompts, both judges, and the arms
    # against each other over runs and prompts (the flipped-pair null among them)
    assert {"flipped", "endpoint_comparisons"} <= set(refinetune["tiny-a"])
    endpoint = refinetune["tiny-a"]["irl"]["endpoint"]["second"]
    assert len(endpoint["run_means"]) == 2 and endpoint["vs_start"]["items"] == refinetune["tiny-a"]["endpoint_prompts"]
    versus = refinetune["tiny-a"]["endpoint_comparisons"]["irl_vs_true"]
    assert versus["primary"] == "second" and versus["second"]["runs"] == [2, 2] and "equivalent" in versus["second"]
    first_rlhf = json.loads(r0.result("rlhf").read_text())["sizes"]

    # a second run resumes: every stage is skipped (no stage folder is built again)
    built = {p: p.stat().st_mtime_ns for p in where.runs.rglob("manifest.json")}
    runner.run("smoke", only=("01_rlhf", "02_sampling", "03_irl"))
    assert {p: p.stat().st_mtime_ns for p in where.runs.rglob("manifest.json")} == built
    executed = (r0.notebooks / "03_irl.ipynb").read_text()
    assert "[irl full]" not in executed and "[features]" not in executed, "nothing trained again"

    # results stay tied to the config that made them: a part of a replicate rerun with other settings is refused,
    # and a result file edited after its replicate finished keeps that replicate out of 06, by name
    with pytest.raises(SystemExit, match="would rerun only 03_irl, 04_eval and mix the two"):
        runner.run("smoke", only=("03_irl", "04_eval"), replicate=0, parameters={"OVERRIDES": {"irl.probe_epochs": 7}})
    from irlkit import config, replicates

    irl_file = r1.result("irl")
    original = irl_file.read_bytes()
    irl_file.write_bytes(original.replace(b'"auc": 0.', b'"auc": 0.9', 1))
    kept, left_out = replicates.collect(where, config.load("smoke"))
    assert set(kept) == {0} and "irl.json differs from what its manifest.json recorded" in left_out[1]
    irl_file.write_bytes(original)
    assert set(replicates.collect(where, config.load("smoke"))[0]) == {0, 1}

    # same seed, retrained from scratch: the same numbers
    shutil.rmtree(r0.policy("tiny-a-rlhf"))
    shutil.rmtree(r0.texts("tiny-a-rlhf"))
    runner.run("smoke", only=("01_rlhf",), replicate=0)
    again = json.loads(r0.result("rlhf").read_text())["sizes"]
    for key in ("judge", "second", "perplexity"):
        assert again["tiny-a"][key] == first_rlhf["tiny-a"][key]

    # 05 resumes from its records on a machine that kept nothing of the run: 01–04 are built again, no policy of 05
    # is trained again, and its numbers are the same; a record made from other results of 01–04 is made again
    records = {p.stem for p in r0.realignment_record("any").parent.glob("*.json")}
    assert {"tiny-a-start", "tiny-a-true-realigned", "tiny-a-true-realigned-seed1", "tiny-a-irl-seed1",
            "tiny-a-random-seed2", "tiny-b-transfer_from_tiny-a"} <= records
    stale = r0.realignment_record("tiny-a-random-seed2")
    stale.write_text(json.dumps({**json.loads(stale.read_text()), "inputs": "another machine's"}))
    before = json.loads(r0.result("refinetune").read_text())["sizes"]
    shutil.rmtree(where.runs)
    timings = runner.run("smoke", replicate=0)
    trained = sorted(p.name for p in (r0.runs / "policies").iterdir() if not p.name.startswith("."))  # (no lock files)
    assert trained == ["tiny-a-random-seed2", "tiny-a-rlhf", "tiny-b-rlhf"]
    after = json.loads(r0.result("refinetune").read_text())["sizes"]
    for size in ("tiny-a", "tiny-b"):
        assert after[size]["endpoint_comparisons"] == before[size]["endpoint_comparisons"]
        assert after[size]["true"]["judge"] == before[size]["true"]["judge"]

    # 06 needs nothing but the results folder: a fresh clone has no run folder and no assets
    clone = tmp_path / "clone-data"
    shutil.copytree(where.results, clone / "results" / "smoke")
    monkeypatch.setenv("IRLKIT_DATA", str(clone))
    monkeypatch.setenv("IRLKIT_FIGURES", str(tmp_path / "clone-figures"))
    runner.run("smoke", only=("06_analysis",))
    fresh = Layout("smoke")
    assert _images(fresh.notebooks / "06_analysis.ipynb") == FIGURES_SHOWN["06_analysis"]
    assert (fresh.figures / "non_identifiability_heatmap.png").exists() and fresh.report.exists()
    assert json.loads(fresh.summary.read_text())["n_replicates"] == 2
    assert json.loads(fresh.result("timings").read_text())["shared"] == timings["shared"], "06 keeps the shared times"
    written = {p: p.read_bytes() for folder in (fresh.results, fresh.figures) for p in sorted(folder.rglob("*")) if p.is_file()}
    runner.run("smoke", only=("06_analysis",))  # reading the committed results again changes none of their bytes
    assert {p: p.read_bytes() for p in written} == written
    assert {p for folder in (fresh.results, fresh.figures) for p in folder.rglob("*") if p.is_file()} == set(written)

    # a profile that stops at 04 (refinetune.enabled off, as the ladder's): 06 renders without 05's results
    for rep in (0, 1):  # replicates that ended at 04: no 05 results, and a manifest that records none
        for leftover in Layout("smoke", rep).results.glob("refinetune*"):
            leftover.unlink()
        m = json.loads(Layout("smoke", rep).manifest.read_text())
        m["files"] = {name: h for name, h in m["files"].items() if not name.startswith("refinetune")}
        Layout("smoke", rep).manifest.write_text(json.dumps(m))
    runner.run("smoke", only=("06_analysis",), parameters={"OVERRIDES": {"refinetune.enabled": False}})
    summary = json.loads(fresh.summary.read_text())
    assert summary["n_replicates"] == 2 and "irl_auc" in summary["sizes"]["tiny-a"]
    assert not any(k.startswith("realign") for k in summary["sizes"]["tiny-a"])


def test_a_failing_notebook_stops_the_run_with_its_name(data_home, capsys):
    with pytest.raises(SystemExit) as stop:
        runner.run("smoke", only=("02_sampling",), replicate=0)  # 01 has not run: no policy to sample from
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "02_sampling" in err and "replicate 0" in err and "StageError" in err
    failed = Layout("smoke", 0).notebooks / "02_sampling.failed.ipynb"
    assert "run 01_rlhf first" in failed.read_text(), "the error says which notebook to run"
    assert not (Layout("smoke", 0).notebooks / "02_sampling.ipynb").exists(), "a failed run is never the good copy"


def test_bad_settings_and_replicates_are_refused_before_any_notebook_runs(data_home):
    with pytest.raises(ValueError, match="rlhf.beta .* must be a finite number > 0"):
        runner.run("smoke", only=("01_rlhf",), parameters={"OVERRIDES": {"rlhf.beta": 0.0}})
    with pytest.raises(ValueError, match="replicates 0 … 1"):
        runner.run("smoke", replicate=2)


@pytest.mark.slow
def test_a_sweep_cell_runs_01_to_04_in_its_own_folders_and_06_draws_the_dose_response(data_home, capsys):
    from irlkit import config

    weak, strong = (lv.name for lv in config.STRENGTH["smoke"])
    assert runner.cell("smoke", 0) == (weak, 0) and runner.cell("smoke", 2) == (strong, 0)
    assert runner.main(["smoke", "--cells"]) == 0
    assert "nothing yet" in capsys.readouterr().out
    for index in (0, 2):
        assert runner.main(["smoke", "--cell", str(index)]) == 0
    where = Layout("smoke")
    for level in (weak, strong):
        rep = Layout("smoke", 0, level)
        assert rep.results == where.results / "levels" / level / "replicates" / "r0"
        manifest = json.loads(rep.manifest.read_text())
        assert manifest["config_hash"] == config.load("smoke", level=level).hash()
        assert set(manifest["seconds"]) == set(runner.PER_REPLICATE[:-1]), "a level runs 01–04"
        assert not rep.result("refinetune").exists()
        rlhf = json.loads(rep.result("rlhf").read_text())["sizes"]["tiny-a"]
        assert rlhf["settings"]["steps"] == dict(config.strength_level("smoke", level).settings).get("rlhf.steps", 2)
        assert rlhf["kl_to_start"]["samples"] == rlhf["kl_to_start"]["prompts"] * config.load("smoke").eval.kl_samples
        assert "r0" in json.loads(rep.of_replicate(None).result("timings").read_text())["replicates"]
        assert not rep.texts("tiny-a-start").exists() and rep.texts("tiny-a-start", shared=True).exists()
    capsys.readouterr()
    runner.main(["smoke", "--cells"])
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[3:7] == ["results", "of", "this", "config"] for line in listed[1:]] == [True, False, True, False]

    runner.run("smoke", only=("06_analysis",))
    sweep = json.loads(where.summary.read_text())["strength"]
    assert list(sweep["levels"]) == [weak, strong]
    points = sweep["levels"][strong]["points"]["tiny-a"]
    assert [p["replicate"] for p in points] == [0] and {"rlhf_kl", "irl_auc_model_text"} <= set(points[0])
    assert sweep["strongest_minus_weakest"]["tiny-a"]["rlhf_kl"]["n"] == 1
    assert (where.figures / "dose_response.png").exists()
    import pandas as pd

    long = pd.read_csv(where.table("summary"))  # summary.json, one value per row
    assert list(long.columns) == ["profile", "level", "size", "quantity", "replicate", "value"]
    kl = long[(long.quantity == "rlhf_kl") & (long["size"] == "tiny-a")].set_index("level").value
    assert kl.to_dict() == {lv: sweep["levels"][lv]["points"]["tiny-a"][0]["rlhf_kl"] for lv in (weak, strong)}
    assert _images(where.notebooks / "06_analysis.ipynb") == 1, "only the sweep has results: its figure, nothing else"
