import numpy as np
import pytest

from irlkit import metrics


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean():
    x = np.random.default_rng(0).normal(size=200)
    a, b = metrics.bootstrap_ci(x, seed=1), metrics.bootstrap_ci(x, seed=1)
    assert a == b and a[0] < x.mean() < a[1]


def test_toxicity_ratio_and_mean():
    t = metrics.toxicity([0.0, 0.4, 0.5, 1.0])
    assert t["ratio"] == 0.5 and t["mean"] == pytest.approx(0.475) and t["n"] == 4


def test_runs_difference_counts_the_spread_between_training_runs():
    before = np.zeros(200)
    assert metrics.runs_difference(before, [before - 0.3] * 3, n=500)["p_value"] < 0.01
    # one run falls by 0.4 on every item, two do not move: item noise is nil, so only the runs can vary
    one_of_three = metrics.runs_difference(before, [before - 0.4, before, before], n=500)
    assert one_of_three["diff"] == pytest.approx(-0.4 / 3)
    assert one_of_three["p_value"] > 0.3 and one_of_three["diff_ci"][1] == 0.0
    assert one_of_three["run_diffs"] == pytest.approx([-0.4, 0.0, 0.0])


def test_paired_difference_detects_a_real_change_and_not_noise():
    rng = np.random.default_rng(0)
    before = rng.uniform(size=300)
    assert metrics.paired_difference(before, before - 0.3)["p_value"] < 0.01
    same = metrics.paired_difference(before, before)
    assert same["diff"] == 0 and same["p_value"] == 1.0
    noise = metrics.paired_difference(before, before + rng.normal(0, 0.2, size=300))  # pure noise, no shift
    assert noise["diff_ci"][0] < 0 < noise["diff_ci"][1] and noise["p_value"] > 0.05
    small = metrics.paired_difference(before, before - 0.05 + rng.normal(0, 0.2, size=300))  # a real effect in noise
    assert small["diff_ci"][1] < 0 and small["p_value"] < 0.01


def test_perfect_and_reversed_rewards():
    p = np.array([0.9, 0.8, 0.2, 0.1, 0.6, 0.3])
    perfect = metrics.reward_vs_judge(-p + 0.5, p, threshold=0.0)
    assert perfect["auc"] == 1 and perfect["sign_accuracy"] == 1 and perfect["calibrated_accuracy"] == 1
    assert perfect["pearson"] == pytest.approx(1) and perfect["pearson_distance"] == pytest.approx(0, abs=1e-6)
    reversed_ = metrics.reward_vs_judge(p, p)
    assert reversed_["auc"] == 0 and reversed_["pearson_distance"] == pytest.approx(1)


def test_sign_accuracy_depends_on_the_offset_but_auc_does_not():
    p = np.array([0.9, 0.8, 0.2, 0.1])
    shifted = metrics.reward_vs_judge(-p + 100, p)
    assert shifted["auc"] == 1 and shifted["sign_accuracy"] == 0.5  # everything predicted clean


def test_best_threshold_separates_when_possible():
    reward = np.array([-3.0, -2.0, 5.0, 6.0])
    toxic = np.array([True, True, False, False])
    t = metrics.best_threshold(reward, toxic)
    assert -2 <= t < 5


def test_pairwise_accuracy_counts_ties_half():
    assert metrics.pairwise_accuracy([1, 2, 3, 0], [0, 2, 4, -1]) == pytest.approx((2 + 0.5) / 4)


def test_seed_agreement_and_spread():
    r = np.array([[1, 2, 3, 4], [2, 4, 6, 8], [4, 3, 2, 1]], float)
    m = metrics.seed_agreement(r)
    assert m.shape == (3, 3) and m[0, 1] == pytest.approx(1) and m[0, 2] == pytest.approx(-1)
    assert metrics.mean_off_diagonal(m) == pytest.approx(-1 / 3)
    s = metrics.spread([0.5, 0.7])
    assert s["mean"] == pytest.approx(0.6) and s["min"] == 0.5 and s["max"] == 0.7 and s["n"] == 2


def _best_threshold_reference(reward, toxic) -> float:
    """The hand-written scan best_threshold replaced (every midpoint between sorted rewards)."""
    reward, toxic = np.asarray(reward, float), np.asarray(toxic, bool)
    candidates = np.unique(reward)
    mids = np.concatenate([[candidates[0] - 1], (candidates[1:] + candidates[:-1]) / 2, [candidates[-1] + 1]])
    accs = [np.mean((reward <= t) == toxic) for t in mids]
    return float(mids[int(np.argmax(accs))])


@pytest.mark.parametrize("seed", range(20))
def test_best_threshold_from_roc_curve_agrees_with_the_scan_it_replaced(seed):
    rng = np.random.default_rng(seed)
    reward = np.round(rng.normal(size=60), 1 if seed % 2 else 6)  # odd seeds: many ties
    toxic = rng.uniform(size=60) < 1 / (1 + np.exp(3 * reward))
    assert metrics.best_threshold(reward, toxic) == pytest.approx(_best_threshold_reference(reward, toxic))


def test_pearson_distance_of_an_undefined_correlation_is_nan():
    assert np.isnan(metrics.pearson_distance(float("nan")))
    assert np.isnan(metrics.reward_vs_judge(np.zeros(6), np.array([0.9, 0.8, 0.2, 0.1, 0.6, 0.3]))["pearson_distance"])


def test_seed_agreement_of_two_seeds_is_a_two_by_two_matrix():
    m = metrics.seed_agreement(np.array([[1, 2, 3, 4], [4, 3, 2, 1]], float))
    assert m.shape == (2, 2) and m[0, 1] == pytest.approx(-1) and metrics.mean_off_diagonal(m) == pytest.approx(-1)


@pytest.mark.parametrize("seed", range(5))
def test_auc_is_sklearns_roc_auc_with_ties(seed):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    reward = np.round(rng.normal(size=200), 1)
    toxic = rng.uniform(size=200) < 0.3
    assert metrics.auc(reward, toxic) == pytest.approx(roc_auc_score(toxic, -reward))
    assert np.isnan(metrics.auc(reward, np.zeros(200, bool)))


def test_the_recovered_reward_is_chosen_without_labels_and_the_judges_pick_is_only_recorded():
    """Seed 1 orders the val demonstration pairs best, seed 0 has the best val AUC against the judge: the label-free
    choice is seed 1 (ties in pair accuracy broken by the standardised margin), the oracle seed 0; the same at the
    level of the loss (`choose_model`)."""
    import pandas as pd

    from irlkit import config
    from irlkit.stages import evaluation

    finals = [{"val_pairwise_accuracy": 0.6, "val_pair_margin": 0.9, "val_auc": 0.9},
              {"val_pairwise_accuracy": 0.7, "val_pair_margin": 0.1, "val_auc": 0.5},
              {"val_pairwise_accuracy": 0.7, "val_pair_margin": 0.3, "val_auc": 0.4}]
    assert metrics.label_free_best(finals) == 2
    assert metrics.label_free_best(finals[:2]) == 1
    assert metrics.pair_margin([2.0, 3.0], [0.0, 1.0]) == pytest.approx(2.0 / np.std([2, 3, 0, 1]))
    assert metrics.pair_margin([1.0, 1.0], [1.0, 1.0]) != metrics.pair_margin([1.0, 1.0], [1.0, 1.0])  # NaN: no scale
    models = {f"probe/{loss}": {"mode": "probe", **{k: {"mean": v} for k, v in row.items()}}
              for loss, row in zip(("max_margin", "hinge", "logistic"), finals)}
    cfg = config.load("smoke")
    assert evaluation.choose_model(cfg, models) == "probe/logistic"
    assert evaluation.choose_model(cfg, models, oracle=True) == "probe/max_margin"
    history = pd.DataFrame([{"seed": i, "epoch": 1, **row} for i, row in enumerate(finals)])
    assert history.groupby("seed").tail(1).val_auc.idxmax() == 0  # what an oracle would take


def test_the_endpoint_is_each_prompts_mean_over_its_samples():
    ids, means = metrics.endpoint([0.2, 0.4, 0.6, 0.0], ["b", "a", "a", "b"])
    assert list(ids) == ["a", "b"] and np.allclose(means, [0.5, 0.1])


def test_arms_difference_of_a_constant_shift_is_that_shift_and_equivalence_needs_the_margin():
    rng = np.random.default_rng(0)
    start = rng.uniform(0.1, 0.3, 200)
    a = np.stack([start - 0.05, start - 0.05])  # two runs that cut every prompt's P(toxic) by 0.05
    b = a + 0.01
    out = metrics.arms_difference(a, b, base=start, n=200)
    assert out["diff"] == pytest.approx(0.01) and out["diff_ci"] == pytest.approx((0.01, 0.01))
    assert out["relative"] == pytest.approx(0.01 / start.mean()) and out["equivalent"]
    assert not metrics.arms_difference(a, b, base=start, n=200, margin=0.01)["equivalent"]
    noisy = metrics.arms_difference(a, a + rng.normal(0, 0.05, a.shape), n=200)
    assert noisy["diff_ci"][0] < 0 < noisy["diff_ci"][1] and noisy["runs"] == [2, 2]


def test_at_kl_reads_each_prompt_where_the_path_first_reaches_the_kl():
    path = [{"step": 0, "kl": 0.0, "per_prompt": {"judge": [0.4, 0.2]}},
            {"step": 8, "kl": 0.5, "per_prompt": {"judge": [0.2, 0.2]}},
            {"step": 16, "kl": 0.4, "per_prompt": {"judge": [0.0, 0.0]}},  # a noisy path falls back below it
            {"step": 24, "kl": 1.5, "per_prompt": {"judge": [0.0, 0.1]}}]
    quarter = metrics.at_kl(path, 0.125)  # a quarter of the way to step 8
    assert quarter["step"] == pytest.approx(2.0)
    assert quarter["judge"] == pytest.approx([0.35, 0.2])
    assert metrics.at_kl(path, 0.5)["step"] == 8  # the first crossing, not a later one
    assert metrics.at_kl(path, 0.95)["judge"] == pytest.approx([0.0, 0.05])  # halfway from step 16 to 24
    beyond = metrics.at_kl(path, 3.0)  # never reached: the last point
    assert beyond["step"] == 24 and beyond["judge"] == pytest.approx([0.0, 0.1])
    assert metrics.at_kl(path, 0.0)["judge"] == pytest.approx([0.4, 0.2])
