"""How many rewards explain the same demonstrations: a posterior over the linear reward head.

    post = posterior.laplace(diff_train, prior_scale=0.1)      # Bradley–Terry likelihood, Gaussian prior
    heads = post.sample(200, seed=0)                           # 200 × dim heads, each a reward
    posterior.contraction(diff_train, ..., sizes=(25, 50, ...)) # how the spread shrinks with data

The reward is R̂(x) = z(x)·w on standardised frozen features z (as the probe's); a demonstration pair
(expert e, start s) has likelihood σ((z_e − z_s)·w) (Bradley–Terry), the prior is w ~ N(0, s²I). The
posterior is approximated at its mode by a Gaussian (Laplace): mean w_MAP, covariance H⁻¹ with
H = Dᵀ diag(p(1 − p)) D + I/s², D the pair differences. With 576–640 features the Hessian is small;
the likelihood is log-concave, so the mode is unique and the Laplace fit is the standard choice
(the "Alignment Auditor" audit of a detoxified LM, arXiv 2510.06096, uses the same model).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from irlkit import metrics


@dataclass
class LaplacePosterior:
    mean: np.ndarray
    """w_MAP."""
    cov: np.ndarray
    """H⁻¹ at w_MAP."""
    prior_scale: float

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n heads drawn from N(mean, cov), one per row."""
        return np.random.default_rng(seed).multivariate_normal(self.mean, self.cov, size=n, method="cholesky")

    @property
    def trace(self) -> float:
        return float(np.trace(self.cov))

    @property
    def logdet(self) -> float:
        return float(np.linalg.slogdet(self.cov)[1])


def map_head(diff: np.ndarray, prior_scale: float) -> np.ndarray:
    """argmax_w Σ log σ(d·w) − |w|²/(2s²): the MAP head of Bradley–Terry pairs `diff` (pairs × dim)."""
    def loss(w):
        m = diff @ w
        return -np.sum(special.log_expit(m)) + w @ w / (2 * prior_scale ** 2), \
            -diff.T @ special.expit(-m) + w / prior_scale ** 2

    res = optimize.minimize(loss, np.zeros(diff.shape[1]), jac=True, method="L-BFGS-B",
                            options={"maxiter": 2000, "gtol": 1e-8})
    return res.x


def laplace(diff: np.ndarray, prior_scale: float) -> LaplacePosterior:
    """The Laplace approximation of the head's posterior given Bradley–Terry pairs `diff`."""
    w = map_head(diff, prior_scale)
    p = special.expit(diff @ w)
    hessian = (diff * (p * (1 - p))[:, None]).T @ diff + np.eye(diff.shape[1]) / prior_scale ** 2
    return LaplacePosterior(w, np.linalg.inv(hessian), prior_scale)


def pair_loglik(diff: np.ndarray, heads: np.ndarray) -> float:
    """Mean log posterior-predictive probability of the pairs (expert preferred), over the heads' average."""
    p = special.expit(diff @ heads.T).mean(1)
    return float(np.mean(np.log(np.clip(p, 1e-12, 1))))


def oriented_pairs(diff: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out pairs shown in a random order: (d oriented first − second, 1 if the first is the expert).
    Calibration needs both outcomes; a pair's orientation is drawn once (fixed seed)."""
    flip = np.random.default_rng(seed).uniform(size=len(diff)) < 0.5
    return np.where(flip[:, None], -diff, diff), (~flip).astype(float)


def calibration(diff: np.ndarray, heads: np.ndarray, seed: int, bins: int = 10) -> dict:
    """Posterior-predictive calibration on held-out pairs in random order: expected calibration error
    (equal-width bins of the predicted probability) and Brier score."""
    d, y = oriented_pairs(diff, seed)
    p = special.expit(d @ heads.T).mean(1)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    ece = sum(abs(p[which == b].mean() - y[which == b].mean()) * np.mean(which == b) for b in range(bins)
              if np.any(which == b))
    return {"ece": float(ece), "brier": float(np.mean((p - y) ** 2)), "n_pairs": int(len(d))}


def auc_over_heads(heads: np.ndarray, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each head's ROC-AUC (`metrics.auc`) on standardised features `z` against toxic `labels`."""
    scores = z @ heads.T
    return np.array([metrics.auc(scores[:, i], labels) for i in range(heads.shape[0])])


def summary(values: np.ndarray) -> dict:
    """Mean, sd, 5% and 95% quantiles of the defined values (NaN when none is: e.g. no toxic text to rank)."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if len(v) < 2:
        return {"mean": float(v.mean()) if len(v) else float("nan"), "sd": float("nan"), "q05": float("nan"),
                "q95": float("nan"), "n": int(len(v))}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)), "q05": float(np.quantile(v, 0.05)),
            "q95": float(np.quantile(v, 0.95)), "n": int(len(v))}


def choose_prior_scale(diff_train: np.ndarray, diff_val: np.ndarray, scales, n_samples: int, seed: int) -> tuple[float, dict]:
    """The prior scale whose posterior predicts the val pairs best (mean log predictive probability)."""
    scores = {s: pair_loglik(diff_val, laplace(diff_train, s).sample(n_samples, seed)) for s in scales}
    return max(scores, key=scores.get), {str(s): v for s, v in scores.items()}


def analyse(feats: dict, pools: dict, *, prior_scales, n_samples: int, contraction_pairs, seed: int) -> dict:
    """irl.json's `posterior` and `contraction` of one size: the Laplace posterior at the prior scale
    chosen on val pairs, its samples' AUCs on test beside the MAP's, calibration on the test pairs, and
    the spread against the number of training pairs. `feats`: 03's features; `pools`: 04's eval sets."""
    x = np.concatenate([feats["train_expert"], feats["train_start"]])
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = lambda a: (a - mu) / sd  # noqa: E731
    train = (feats["train_expert"] - feats["train_start"]) / sd
    val, test = pools["val_pool"].source.values, pools["test_pool"].source.values
    val_diff = (feats["val_pool"][val == "expert"] - feats["val_pool"][val == "start"]) / sd
    test_diff = (feats["test_pool"][test == "expert"] - feats["test_pool"][test == "start"]) / sd
    scale, val_loglik = choose_prior_scale(train, val_diff, prior_scales, n_samples, seed)
    post = laplace(train, scale)
    heads = post.sample(n_samples, seed)
    toxic = metrics.is_toxic(pools["test_pool"].p_judge.values)
    model_text = test != "original"
    z_test, z_comments = z(feats["test_pool"]), z(feats["test_comments"])
    human = pools["test_comments"].human_label.values.astype(bool)
    sample_aucs = auc_over_heads(heads, z_test, toxic)
    out = {"prior_scale": scale, "prior_scale_val_loglik": val_loglik, "n_samples": n_samples,
           "n_train_pairs": int(len(train)), "trace": post.trace, "logdet": post.logdet,
           "prior_trace": float(scale ** 2 * train.shape[1]),  # N(0, scale² I) on the head: where no pair has spoken
           "map": {"auc": metrics.auc(z_test @ post.mean, toxic),
                   "auc_model_text": metrics.auc(z_test[model_text] @ post.mean, toxic[model_text]),
                   "human_auc": metrics.auc(z_comments @ post.mean, human)},
           "auc_samples": {**summary(sample_aucs), "values": [round(float(v), 5) for v in sample_aucs]},
           "auc_model_text_samples": summary(auc_over_heads(heads, z_test[model_text], toxic[model_text])),
           "human_auc_samples": summary(auc_over_heads(heads, z_comments, human)),
           **calibration(test_diff, heads, seed)}
    rng = np.random.default_rng(seed)
    contraction = []
    for n_pairs in sorted({min(n, len(train)) for n in contraction_pairs} | {len(train)}):
        subset = train[rng.permutation(len(train))[:n_pairs]]
        p = laplace(subset, scale)
        aucs = auc_over_heads(p.sample(n_samples, seed), z_test, toxic)
        contraction.append({"n_pairs": int(n_pairs), "trace": p.trace, "logdet": p.logdet,
                            "auc_q05": float(np.quantile(aucs, 0.05)), "auc_q95": float(np.quantile(aucs, 0.95)),
                            "auc_mean": float(aucs.mean())})
    return {"posterior": out, "contraction": contraction}


def demo_bootstrap(feats: dict, pools: dict, *, loss: str, n: int, seed: int, probe_args: dict) -> dict:
    """The selected probe setting retrained on `n` bootstrap resamples of the training pairs (one seed
    each): the spread of its test AUC, and how far the resampled rewards agree on the same test texts
    (mean Spearman ρ between every two). `probe_args`: epochs, lr, batch_size, weight_decay."""
    from irlkit import irl

    rng = np.random.default_rng(seed)
    n_pairs = len(feats["train_expert"])
    toxic = metrics.is_toxic(pools["test_pool"].p_judge.values)
    rewards, aucs = [], []
    for b in range(n):
        idx = rng.integers(0, n_pairs, n_pairs)
        probe, _ = irl.train_probe(feats["train_expert"][idx], feats["train_start"][idx], loss=loss, seed=seed + b,
                                   **probe_args)
        rewards.append(probe(feats["test_pool"]))
        aucs.append(metrics.auc(rewards[-1], toxic))
    agreement = metrics.seed_agreement(np.stack(rewards))
    return {"n_resamples": n, "loss": loss, "auc": summary(aucs), "rank_agreement": metrics.mean_off_diagonal(agreement)}
