"""Replicates: their seeds, and the summary over them, on synthetic results with known answers."""
import json
import math

import numpy as np
import pytest
from scipy import stats

from irlkit import config, replicates
from irlkit.layout import Layout


def test_replicate_seeds_differ_and_are_deterministic():
    seeds = [config.replicate_seed(0, k) for k in range(50)]
    assert seeds[0] == 0 and len(set(seeds)) == 50
    assert max(seeds) * 1000 + 999 < 2**32, "IRL derives seed × 1000 + i from it; numpy and TRL need < 2³²"
    assert seeds == [config.replicate_seed(0, k) for k in range(50)]
    assert config.replicate_seed(1, 1) != config.replicate_seed(0, 1)
    cfg = config.load("smoke")
    assert config.for_replicate(cfg, 0) == cfg
    r1, r2 = config.for_replicate(cfg, 1), config.for_replicate(cfg, 2)
    assert r1.seed != r2.seed and r1.refinetune.random_seed != r2.refinetune.random_seed
    assert r1.data == cfg.data, "the prompt splits are the same in every replicate"
    with pytest.raises(ValueError):
        config.replicate_seed(0, -1)


def test_transfer_arm_runs_only_in_the_first_transfer_replicates():
    from irlkit.stages.realignment import runs_of

    cfg = config.load("smoke", **{"refinetune.transfer_replicates": 1})
    arms = lambda k: {name for name, _ in runs_of(config.for_replicate(cfg, k), "tiny-a")}  # noqa: E731
    assert "transfer_from_tiny-b" in arms(0) and arms(1) == arms(2) == {"true", "irl", "flipped", "random"}
    every = config.load("smoke")  # 0: every replicate
    assert all("transfer_from_tiny-b" in {n for n, _ in runs_of(config.for_replicate(every, k), "tiny-a")} for k in range(3))


def test_a_size_sets_its_own_runs_per_reward_and_the_transfer_arm_runs_once():
    from collections import Counter

    from irlkit.stages.realignment import runs_of

    cfg = config.load("smoke", sizes=[{"name": "tiny-a", "start": "tiny:0", "params_m": 0.2, "refinetune_seeds": 3},
                                      {"name": "tiny-b", "start": "tiny:1", "params_m": 0.4}],
                      **{"refinetune.seeds": 2, "refinetune.random_heads": 4})
    assert Counter(n for n, _ in runs_of(cfg, "tiny-a")) == {"true": 3, "irl": 3, "flipped": 3, "random": 4, "transfer_from_tiny-b": 1}
    assert Counter(n for n, _ in runs_of(cfg, "tiny-b")) == {"true": 2, "irl": 2, "flipped": 2, "random": 4, "transfer_from_tiny-a": 1}
    with pytest.raises(ValueError, match="refinetune_seeds"):
        config.load("smoke", sizes=[{"name": "x", "start": "tiny:0", "params_m": 1, "refinetune_seeds": -1}])


def test_t_interval_over_replicates_matches_scipy():
    values = [0.71, 0.80, 0.77]
    got = replicates.interval(values)
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert got["mean"] == pytest.approx(np.mean(values)) and got["ci"] == pytest.approx([lo, hi]) and got["n"] == 3
    assert all(math.isnan(x) for x in replicates.interval([0.5])["ci"])


def test_paired_difference_detects_a_real_effect_and_not_a_null_one():
    irl = [-0.55, -0.60, -0.50, -0.58]
    random = [-0.07, 0.05, -0.10, 0.00]
    d = replicates.paired(irl, random)
    assert d["ci"][1] < 0 and d["p_value"] < 0.01
    null = replicates.paired([-0.2, 0.1, -0.1, 0.2], [0.1, -0.1, 0.1, -0.1])
    assert null["ci"][0] < 0 < null["ci"][1] and null["p_value"] > 0.3


def test_random_effects_is_the_t_interval_when_replicates_spread_more_than_their_own_errors():
    """Equal, small within-replicate errors: τ² takes up the rest of the spread and the pooled interval is the
    plain t-interval over the replicates' estimates."""
    values = [-0.40, -0.55, -0.30]
    got = replicates.random_effects(values, [0.01] * 3)
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert got["mean"] == pytest.approx(np.mean(values)) and got["ci"] == pytest.approx([lo, hi]) and got["tau2"] > 0
    assert got["p_value"] == pytest.approx(stats.ttest_1samp(values, 0.0).pvalue)


def test_random_effects_keeps_the_within_replicate_error_when_replicates_agree():
    """Replicates that agree exactly: no between-replicate variance, and the interval is the within-replicate
    errors' (pooled, on k − 1 degrees of freedom), not zero."""
    got = replicates.random_effects([0.2, 0.2, 0.2], [0.1, 0.1, 0.1])
    half = stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3)
    assert got["tau2"] == 0 and got["ci"] == pytest.approx([0.2 - half, 0.2 + half])
    assert math.isnan(replicates.random_effects([0.2], [0.1])["ci"][0])


def test_realignment_comparisons_are_pooled_over_replicates_with_equivalence_for_the_true_arm():
    def comparison(rel, half):
        return {w: {"relative": rel, "relative_ci": [rel - half, rel + half], "margin": 0.1} for w in ("judge", "second")}

    runs = {k: {"refinetune": {"sizes": {"small": {
        "endpoint_comparisons": {"irl_vs_true": comparison(0.01 * k, 0.02), "irl_vs_random": comparison(-0.5 + 0.05 * k, 0.1)}}}}}
        for k in range(3)}
    pooled = replicates.pooled_comparisons(runs, "small")
    true, random = pooled["realign_endpoint_irl_vs_true_pooled_second"], pooled["realign_endpoint_irl_vs_random_pooled_judge"]
    assert true["values"] == pytest.approx([0.0, 0.01, 0.02]) and true["equivalent"] and true["margin"] == 0.1
    assert true["se_within"][0] == pytest.approx(0.02 / stats.norm.ppf(0.975))
    assert random["ci"][1] < 0 and "equivalent" not in random
    runs[3] = {"refinetune": {"sizes": {"small": {}}}}  # a replicate without 05's comparisons: nothing is pooled
    assert replicates.pooled_comparisons(runs, "small") == {}


def _replicate(k: int, auc: float, irl_change: float, random_change: float, code="c0ffee") -> dict:
    """The results of one replicate in the schema 01–05 write, reduced to what the summary reads."""
    tox = lambda rel, before=0.12: {"before": {"ratio": before}, "after": {"ratio": before * (1 + rel)},  # noqa: E731
                                    "paired": {"ratio_relative_change": rel}}
    size = {"rlhf": {"judge": tox(-0.7), "second": tox(-0.6), "perplexity": {"start": 80.0, "rlhf": 88.0}},
            "irl": {"selected": "probe/logistic", "oracle_selected": "probe/logistic",
                    "models": {"probe/logistic": {"selected_on_val": {"auc": auc, "auc_model_text": auc - 0.1, "human_auc": 0.7}}},
                    "implicit": {"sum": {"auc": 0.8, "auc_model_text": 0.75}}, "random": {"auc": 0.55}},
            "refinetune": {"true": {"judge": tox(-0.7)}, "irl": {"judge": tox(irl_change)},
                           "random": {"judge": tox(random_change)}}}
    return {"manifest": {"config_hash": "cfg", "code_hash": code, "replicate": k},
            **{name: {"sizes": {"small": size[name]}} for name in ("rlhf", "irl", "refinetune")}}


def test_summary_has_the_right_means_and_intervals():
    runs = {k: _replicate(k, auc, irl, rnd) for k, (auc, irl, rnd) in enumerate([(0.70, -0.5, -0.1), (0.80, -0.6, 0.1),
                                                                                  (0.75, -0.55, -0.05)])}
    s = replicates.summarise(runs)
    small = s["sizes"]["small"]
    assert s["n_replicates"] == 3 and small["irl_auc"]["values"] == [0.70, 0.80, 0.75]
    assert small["irl_auc"]["mean"] == pytest.approx(0.75)
    logit = np.log(np.array([0.7, 0.8, 0.75]) / (1 - np.array([0.7, 0.8, 0.75])))  # an AUC's interval: on the logit scale
    expected = 1 / (1 + np.exp(-np.array(stats.t.interval(0.95, 2, loc=logit.mean(), scale=stats.sem(logit)))))
    assert small["irl_auc"]["ci"] == pytest.approx(list(expected)) and small["irl_auc"]["scale"] == "logit"
    assert small["realign_relative_change_irl"]["mean"] == pytest.approx(-0.55)
    assert small["irl_minus_random"]["values"] == pytest.approx([-0.4, -0.7, -0.5])
    assert small["irl_minus_true"]["values"] == pytest.approx([0.2, 0.1, 0.15])
    d = [0.60 - 0.75, 0.70 - 0.75, 0.65 - 0.75]  # IRL AUC minus the implicit reward's, paired by replicate
    assert small["irl_minus_implicit_model_text"]["mean"] == pytest.approx(-0.1)
    assert small["irl_minus_implicit_model_text"]["p_value"] == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)
    for name in ("recovery", "re-alignment"):  # Holm within each family of claims, both sizes together
        family = [n for n in small if replicates.claim_family(n) == name and small[n]["p_value"] == small[n]["p_value"]]
        smallest = min(small[n]["p_value"] for n in family)
        assert s["holm_families"][name] == len(family) > 0
        assert min(small[n]["p_holm"] for n in family) == pytest.approx(min(1, len(family) * smallest))
    assert small["irl_share_of_true_cut"]["values"] == pytest.approx([0.5 / 0.7, 0.6 / 0.7, 0.55 / 0.7])
    assert small["rlhf_perplexity_change"]["mean"] == pytest.approx(0.1)


def test_a_reward_an_older_code_chose_with_the_judge_counts_as_the_oracle_not_as_label_free():
    old = _replicate(0, 0.7, -0.5, 0.0)
    del old["irl"]["sizes"]["small"]["oracle_selected"]  # before label-free selection, `selected` was the judge's pick
    q = replicates.quantities(old)["small"]
    assert q["oracle_irl_auc"] == 0.7 and "irl_auc" not in q and "irl_human_auc" not in q
    assert replicates.quantities(_replicate(0, 0.7, -0.5, 0.0))["small"]["irl_auc"] == 0.7


def test_each_replicates_test_set_interval_is_kept_beside_the_interval_over_replicates():
    runs = {k: _replicate(k, auc, -0.5, 0.0) for k, auc in enumerate([0.70, 0.80])}
    runs[0]["irl"]["sizes"]["small"]["selected_reward"] = {"auc": 0.70, "auc_ci": [0.65, 0.75]}
    small = replicates.summarise(runs)["sizes"]["small"]
    assert small["irl_auc"]["test_ci"] == [[0.65, 0.75], None]  # r1's results carry none
    assert "test_ci" not in small["implicit_auc"]  # no replicate reported one


def test_aggregation_refuses_mixed_code_with_a_clear_message():
    runs = {0: _replicate(0, 0.7, -0.5, 0.0), 1: _replicate(1, 0.8, -0.6, 0.0, code="deadbeef")}
    with pytest.raises(ValueError, match="different configs or code.*r1: config cfg, code deadbeef"):
        replicates.summarise(runs)


def _write_replicates(where, cfg, codes):
    for k, (code, finished) in enumerate(codes):
        folder = where.of_replicate(k).results
        folder.mkdir(parents=True)
        (folder / "irl.json").write_text("{}")
        if code:
            (folder / "manifest.json").write_text(json.dumps({"config_hash": cfg.hash(), "code_hash": code,
                                                              "finished": finished}))


def test_collect_keeps_this_codes_finished_replicates_and_names_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("IRLKIT_DATA", str(tmp_path))
    cfg = config.load("smoke")
    where = Layout("smoke")
    _write_replicates(where, cfg, [(replicates.code_hash(), "2026-01-01"), ("old", "2026-12-01"), (None, "")])
    runs, left_out = replicates.collect(where, cfg)
    assert list(runs) == [0] and runs[0]["irl"] == {} and replicates.is_current(runs, cfg)
    assert "code old" in left_out[1] and "did not finish" in left_out[2]


def test_without_replicates_of_this_code_collect_keeps_the_latest_group_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("IRLKIT_DATA", str(tmp_path))
    cfg = config.load("smoke")
    where = Layout("smoke")
    _write_replicates(where, cfg, [("a", "2026-01-01"), ("b", "2026-02-01"), ("b", "2026-03-01")])
    runs, left_out = replicates.collect(where, cfg)
    assert list(runs) == [1, 2] and list(left_out) == [0] and not replicates.is_current(runs, cfg)


def test_a_profile_without_refinetune_is_complete_after_04_and_keeps_the_shared_timings(data_home, monkeypatch):
    """Orchestration only (each notebook's run replaced by a stub): with `refinetune.enabled` off, a replicate
    runs 01–04, 05 is never started, and the manifest is written once 04 has run; a later run of 06 on a machine
    without run folders keeps the shared work's recorded times."""
    import contextlib

    from irlkit import layout, runner

    ran = []
    monkeypatch.setattr(runner, "_execute", lambda name, profile, where, parameters, kernel=None, note="": ran.append(name) or 1.0)
    monkeypatch.setattr(runner, "_kernel", lambda where: contextlib.nullcontext())  # nothing runs in it
    off = {"OVERRIDES": {"refinetune.enabled": False}}
    runner.run("smoke", only=runner.PER_REPLICATE, parameters=off, replicate=0)
    assert ran == ["01_rlhf", "02_sampling", "03_irl", "04_eval"]
    where = layout.Layout("smoke")
    manifest = json.loads(where.of_replicate(0).manifest.read_text())
    assert set(manifest["seconds"]) == set(ran) and manifest["total_seconds"] == 4.0

    runner.run("smoke", only=("01_rlhf", "02_sampling"), parameters=off, replicate=1)
    assert not where.of_replicate(1).manifest.exists(), "a replicate that stopped before its last notebook is not complete"

    timings = json.loads(where.result("timings").read_text())
    timings["shared"] = {"texts/tiny-a-start": 12.5}  # as a machine with run folders recorded it
    where.result("timings").write_text(json.dumps(timings))
    runner.run("smoke", only=("06_analysis",), parameters=off)
    assert json.loads(where.result("timings").read_text())["shared"] == {"texts/tiny-a-start": 12.5}

    before, ran[:] = where.result("timings").read_text(), []
    runner.run("smoke", only=("05_refinetune",), parameters=off)  # off in this profile: nothing runs or is written
    assert ran == [] and where.result("timings").read_text() == before


def test_intervals_respect_the_range_of_what_they_bound():
    """Three spread AUCs near 1 and three relative changes near −1: a t-interval on the raw values leaves (0, 1) and
    goes below −100%; on the logit and log(1 + x) scales it stays inside, around the same values."""
    auc = replicates.interval([0.90, 0.99, 0.70], scale="logit")
    assert 0 < auc["ci"][0] < 0.7 and 0.99 < auc["ci"][1] < 1
    assert replicates.interval([0.90, 0.99, 0.70])["ci"][1] > 1  # what the linear scale says
    change = replicates.interval([-0.95, -0.40, -0.80], scale="log1p")
    assert -1 < change["ci"][0] < -0.95 and change["ci"][1] > -0.40
    assert replicates.interval([-0.95, -0.40, -0.80])["ci"][0] < -1


def test_the_judge_plus_noise_reference_agrees_fully_at_auc_1_and_not_at_all_at_chance():
    p = np.random.default_rng(0).uniform(size=300)
    assert replicates.noise_reference(p, [0.999, 0.999], draws=5) > 0.9
    assert abs(replicates.noise_reference(p, [0.5, 0.5], draws=5)) < 0.15
    middle = replicates.noise_reference(p, [0.8, 0.8], draws=5)
    assert 0.15 < middle < 0.9


def test_cross_replicate_agreement_compares_one_label_free_method_on_the_shared_texts():
    """Two replicates, two losses: the loss that orders the val pairs best on average is compared in both, whatever
    each replicate selected; its seeds and halves are read beside it."""
    rng = np.random.default_rng(1)
    p_judge = rng.uniform(size=50)

    def model(accuracy, scores):
        return {"val_pairwise_accuracy": {"mean": accuracy}, "val_pair_margin": {"mean": 0.0},
                "seed_agreement_shared_mean": 0.8, "selected_on_val": {"shared_scores": scores}}

    good = -p_judge
    runs = {k: {"irl": {"sizes": {"s": {"models": {"probe/hinge": model(0.6, list(rng.normal(size=50))),
                                                   "probe/logistic": model(0.7, list(good + rng.normal(0, 0.01, 50)))},
                                        "halves": {"probe/logistic": 0.5, "probe/hinge": 0.1},
                                        "shared_p_judge": list(p_judge)}}}} for k in (0, 1)}
    a = replicates.agreement(runs, "s")
    assert a["method"] == "probe/logistic" and a["spearman_mean"] > 0.99
    assert a["within_replicate_seeds"] == 0.8 and a["demonstration_halves"] == 0.5 and a["judge_plus_noise"] > 0.9


def test_reward_dose_pools_every_run_of_every_replicate_and_finds_a_known_monotone_relation():
    def arm(agreements, changes):
        return {"policy": "p", "reward_agreement": [{"val_pair_accuracy": a, "auc": a, "auc_model_text": 1 - a}
                                                    for a in agreements],
                "endpoint": {"judge": {"start_mean": 0.2, "run_means": [0.2 * (1 + c) for c in changes]}}}

    runs = {k: {"refinetune": {"sizes": {"s": {"irl": arm([0.7 + k / 100], [-0.3 - k / 100]),
                                               "random": arm([0.4, 0.5, 0.6], [0.1, 0.0, -0.1]),
                                               "true": {"policy": "t"}}}}} for k in range(3)}
    dose = replicates.reward_dose(runs, n=200)["s"]
    assert len(dose["points"]) == 3 * 4 and {p["replicate"] for p in dose["points"]} == {0, 1, 2}
    assert dose["spearman_val_pair_accuracy"]["rho"] == pytest.approx(-1.0)  # better agreement, lower toxicity
    assert dose["spearman_auc_model_text"]["rho"] == pytest.approx(1.0)
    assert dose["spearman_val_pair_accuracy"]["n"] == 12
    assert dose["spearman_val_pair_accuracy"]["ci"][1] <= -0.9


def test_the_size_difference_pairs_replicates_of_the_largest_and_smallest_size():
    summary = {"sizes": {"big": {"irl_auc": replicates.interval([0.80, 0.85, 0.90]), "only_big": replicates.interval([1, 2])},
                         "small": {"irl_auc": replicates.interval([0.70, 0.80, 0.81])}}}
    d = replicates.size_difference(summary, {"big": 1500.0, "small": 500.0})
    assert (d["larger"], d["smaller"]) == ("big", "small") and list(d["quantities"]) == ["irl_auc"]
    q = d["quantities"]["irl_auc"]
    assert q["n"] == 3 and q["mean"] == pytest.approx((0.10 + 0.05 + 0.09) / 3)
    assert q["ci"][0] > 0 and q["p_value"] < 0.05  # three positive differences close together
    assert replicates.size_difference({"sizes": {"one": {}}}, {"one": 1.0}) is None
