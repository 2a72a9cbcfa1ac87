"""The Laplace posterior of a logistic (Bradley–Terry) head: a known reference, and contraction with data."""
import numpy as np
import pytest
from scipy import special

from irlkit import metrics, posterior


def _pairs(n, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=dim)
    diff = rng.normal(size=(n, dim))
    keep = rng.uniform(size=n) < special.expit(diff @ w_true)  # orient each pair so that "expert" won
    return np.where(keep[:, None], diff, -diff), w_true


def test_map_matches_sklearns_logistic_regression_and_the_hessian_the_analytic_one():
    from sklearn.linear_model import LogisticRegression

    diff, _ = _pairs(300)
    s = 0.5
    w = posterior.map_head(diff, s)
    # sklearn: minimise C·Σ log-loss + |w|²/2 on both orientations (labels 1 and 0): C = s² / 2 gives our MAP
    x, y = np.concatenate([diff, -diff]), np.concatenate([np.ones(300), np.zeros(300)])
    ref = LogisticRegression(C=s ** 2 / 2, fit_intercept=False, tol=1e-10, max_iter=10000).fit(x, y).coef_[0]
    np.testing.assert_allclose(w, ref, rtol=1e-4, atol=1e-6)
    post = posterior.laplace(diff, s)
    p = special.expit(diff @ w)
    h = sum(pi * (1 - pi) * np.outer(d, d) for pi, d in zip(p, diff)) + np.eye(diff.shape[1]) / s ** 2
    np.testing.assert_allclose(post.cov, np.linalg.inv(h), rtol=1e-6)
    samples = post.sample(4000, seed=1)
    np.testing.assert_allclose(samples.mean(0), w, atol=0.05)
    np.testing.assert_allclose(np.cov(samples.T), post.cov, atol=0.02)


def test_the_posterior_contracts_as_data_grows():
    diff, w_true = _pairs(2000)
    traces = [posterior.laplace(diff[:n], 1.0).trace for n in (25, 100, 400, 2000)]
    assert all(a > b for a, b in zip(traces, traces[1:])), traces
    far = posterior.laplace(diff, 1.0).mean
    assert far @ w_true / np.linalg.norm(far) / np.linalg.norm(w_true) > 0.95


def test_calibration_of_a_true_model_is_good_and_of_a_wrong_one_bad():
    diff, w_true = _pairs(3000, seed=2)
    good = posterior.calibration(diff, w_true[None, :], seed=0)
    bad = posterior.calibration(diff, -w_true[None, :], seed=0)
    assert good["ece"] < 0.05 and bad["ece"] > 0.3 and good["brier"] < bad["brier"]


def test_canonical_distance_ignores_per_prompt_offsets_and_scale():
    rng = np.random.default_rng(0)
    r_star = rng.normal(size=60)
    groups = np.repeat(np.arange(20), 3)
    shaped = 3.0 * r_star + rng.normal(size=20)[groups] * 10  # per-prompt offsets and a scale
    assert metrics.canonical_distance(shaped, r_star, groups) == pytest.approx(0, abs=1e-6)
    assert metrics.pearson_distance(metrics.pearson_r(shaped, r_star)) > 0.1  # the plain distance is fooled
    assert metrics.canonical_distance(-r_star, r_star, groups) == pytest.approx(1, abs=1e-6)


def test_summary_of_undefined_aucs_is_nan_not_an_error():
    # a test split with no toxic model-written text leaves every sample's AUC undefined
    out = posterior.summary(np.array([np.nan, np.nan]))
    assert out["n"] == 0 and all(np.isnan(out[k]) for k in ("mean", "sd", "q05", "q95"))
