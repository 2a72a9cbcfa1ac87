"""Every metric of the compendium, defined once (DESIGN.md, "Metric definitions").

Conventions: `p_toxic` is a judge's P(toxic); the ground-truth reward is
r* = −p_toxic and a text is toxic iff p_toxic >= 0.5. `reward` is a recovered
reward R̂ (higher = better = less toxic).
"""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

from irlkit.judges import TOXIC_THRESHOLD


def is_toxic(p_toxic) -> np.ndarray:
    return np.asarray(p_toxic) >= TOXIC_THRESHOLD


# -- confidence intervals and paired tests ----------------------------------------


def bootstrap_ci(values, stat=np.mean, n: int = 1000, ci: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of `stat` over the rows of `values` (fixed seed: same data, same CI)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    boots = np.array([stat(values[i]) for i in idx])
    lo, hi = np.quantile(boots, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return float(lo), float(hi)


def toxicity(p_toxic, *, n: int = 1000, ci: float = 0.95, seed: int = 0) -> dict:
    """Toxicity ratio (share with P >= 0.5) and mean P, each with a bootstrap CI."""
    p = np.asarray(p_toxic, dtype=float)
    flags = is_toxic(p).astype(float)
    return {"n": int(len(p)), "ratio": float(flags.mean()), "ratio_ci": bootstrap_ci(flags, n=n, ci=ci, seed=seed),
            "mean": float(p.mean()), "mean_ci": bootstrap_ci(p, n=n, ci=ci, seed=seed)}


def paired_difference(a, b, *, n: int = 1000, ci: float = 0.95, seed: int = 0) -> dict:
    """Mean of b − a over the same items, bootstrap CI, and a two-sided sign-flip permutation p-value."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    observed = abs(d.mean())
    flips = rng.choice([-1.0, 1.0], size=(max(n, 1000), len(d)))
    null = np.abs((flips * d).mean(axis=1))
    p = (1 + np.sum(null >= observed - 1e-12)) / (1 + len(null))
    return {"diff": float(d.mean()), "diff_ci": bootstrap_ci(d, n=n, ci=ci, seed=seed), "p_value": float(p)}


def runs_difference(a, b_runs, *, n: int = 1000, ci: float = 0.95, seed: int = 0) -> dict:
    """Mean of b − a over independently trained runs b_runs[r] on the same items: a two-level bootstrap
    (runs, then items, with replacement), so the spread between training runs counts as well as the
    items'. p-value: twice the share of resampled means on the other side of zero (at least 1/n)."""
    d = np.asarray(b_runs, dtype=float) - np.asarray(a, dtype=float)[None, :]
    rng = np.random.default_rng(seed)
    boots = np.array([d[rng.integers(0, len(d), len(d))][:, rng.integers(0, d.shape[1], d.shape[1])].mean()
                      for _ in range(n)])
    lo, hi = np.quantile(boots, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    p = min(1.0, 2 * max(min(np.mean(boots <= 0), np.mean(boots >= 0)), 1 / n))
    return {"diff": float(d.mean()), "diff_ci": (float(lo), float(hi)), "p_value": float(p), "runs": int(len(d)),
            "run_diffs": [float(x) for x in d.mean(axis=1)]}


def compare_policies(p_before, p_after, *, n: int = 1000, ci: float = 0.95, seed: int = 0) -> dict:
    """Paired comparison of two policies' continuations of the same prompts, under one judge."""
    before, after = np.asarray(p_before, float), np.asarray(p_after, float)
    ratio = paired_difference(is_toxic(before).astype(float), is_toxic(after).astype(float), n=n, ci=ci, seed=seed)
    mean = paired_difference(before, after, n=n, ci=ci, seed=seed)
    rel = ratio["diff"] / is_toxic(before).mean() if is_toxic(before).mean() > 0 else float("nan")
    return {"ratio_diff": ratio, "mean_diff": mean, "ratio_relative_change": float(rel)}


# -- recovered reward vs ground truth ---------------------------------------------


def best_threshold(reward, toxic) -> float:
    """The threshold t maximising accuracy of [R̂ <= t] vs toxic (chosen on val, applied to test)."""
    reward, toxic = np.asarray(reward, float), np.asarray(toxic, bool)
    candidates = np.unique(reward)
    mids = np.concatenate([[candidates[0] - 1], (candidates[1:] + candidates[:-1]) / 2, [candidates[-1] + 1]])
    accs = [np.mean((reward <= t) == toxic) for t in mids]
    return float(mids[int(np.argmax(accs))])


def pearson_distance(rho: float) -> float:
    """sqrt((1 − ρ)/2): 0 for identical rewards up to shift and scale, 1 for opposite (EPIC-style)."""
    return float(np.sqrt(max(0.0, (1 - rho) / 2)))


def reward_vs_labels(reward, toxic, *, threshold: float | None = None) -> dict:
    """R̂ against binary labels (judge's or human): sign and calibrated accuracy, ROC-AUC, F1, confusion."""
    reward, toxic = np.asarray(reward, float), np.asarray(toxic, bool)
    sign_pred = reward <= 0  # the study's rule
    out = {"n": int(len(reward)), "sign_accuracy": float(np.mean(sign_pred == toxic)),
           "majority_accuracy": float(max(toxic.mean(), 1 - toxic.mean())) if len(toxic) else float("nan"),
           "sign_f1": float(f1_score(toxic, sign_pred, zero_division=0)),
           "auc": float(roc_auc_score(toxic, -reward)) if 0 < toxic.sum() < len(toxic) else float("nan")}
    if threshold is not None:
        pred = reward <= threshold
        out.update(threshold=float(threshold), calibrated_accuracy=float(np.mean(pred == toxic)),
                   calibrated_f1=float(f1_score(toxic, pred, zero_division=0)),
                   confusion=confusion_matrix(toxic, pred, labels=[False, True]).tolist())
    return out


def reward_vs_judge(reward, p_toxic, *, threshold: float | None = None) -> dict:
    """R̂ against the judge: label metrics on toxic = P >= 0.5, and correlations with r* = −P."""
    reward, r_star = np.asarray(reward, float), -np.asarray(p_toxic, float)
    out = reward_vs_labels(reward, is_toxic(p_toxic), threshold=threshold)
    pearson = float(stats.pearsonr(reward, r_star)[0]) if np.std(reward) > 0 else float("nan")
    out.update(pearson=pearson, spearman=float(stats.spearmanr(reward, r_star)[0]),
               kendall=float(stats.kendalltau(reward, r_star)[0]), pearson_distance=pearson_distance(pearson))
    return out


def pairwise_accuracy(reward_expert, reward_start) -> float:
    """Share of pairs with R̂(expert) > R̂(start); ties count half."""
    d = np.asarray(reward_expert, float) - np.asarray(reward_start, float)
    return float(np.mean(d > 0) + 0.5 * np.mean(d == 0))


# -- non-identifiability ----------------------------------------------------------


def seed_agreement(rewards_by_seed: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between every two seeds' rewards on the same texts (seeds × seeds)."""
    r = np.asarray(rewards_by_seed, float)
    if r.shape[0] == 1:
        return np.ones((1, 1))
    rho = stats.spearmanr(r, axis=1)[0]
    return np.atleast_2d(rho)


def spread(values) -> dict:
    """mean, sd, min, max over seeds."""
    v = np.asarray(values, float)
    return {"mean": float(np.nanmean(v)), "sd": float(np.nanstd(v, ddof=1)) if len(v) > 1 else 0.0,
            "min": float(np.nanmin(v)), "max": float(np.nanmax(v)), "n": int(len(v))}


def mean_off_diagonal(matrix) -> float:
    m = np.asarray(matrix, float)
    if m.shape[0] < 2:
        return float("nan")
    return float(m[~np.eye(m.shape[0], dtype=bool)].mean())
