"""How a reward is measured: every metric on the test texts, intervals over test prompts, paired
comparisons of two rewards, and the supervised ceiling a linear reward on the same features can reach.

    evidence.score(eval_sets, r)           # every metric of one reward (`FLAT_METRICS`)
    cis = evidence.prompt_bootstrap({"irl": r_irl, "implicit": r_imp}, eval_sets, n=1000, ci=0.95, seed=0)
    cis["irl"]["auc"]                      # {"value": …, "ci": [lo, hi]}
    evidence.compare(cis, "irl", "implicit")["auc"]   # {"diff": …, "ci": […], "p_value": …}

The unit of resampling is the **test prompt**: each test prompt brings its three continuations (human,
RLHF, start) and its human-labelled comment, so texts of one prompt are never split between a
resample's copies. Thresholds stay those chosen on val. `scipy.stats.bootstrap` resamples for one
statistic at a time and has no clusters; here every metric of every reward is computed on the same
resampled prompts, which is what makes the paired differences paired.
"""
from __future__ import annotations

import numpy as np

from irlkit import metrics

FLAT_METRICS = {"sign_accuracy": ("judge", "sign_accuracy"), "calibrated_accuracy": ("judge", "calibrated_accuracy"),
                "majority_accuracy": ("judge", "majority_accuracy"),
                "auc": ("judge", "auc"), "auc_model_text": ("judge_model_text", "auc"),
                "auc_human_text": ("judge_human_text", "auc"), "auc_expert_text": ("judge_expert_text", "auc"),
                "auc_start_text": ("judge_start_text", "auc"),
                "f1": ("judge", "calibrated_f1"), "sign_f1": ("judge", "sign_f1"),
                "pearson": ("judge", "pearson"), "spearman": ("judge", "spearman"), "kendall": ("judge", "kendall"),
                "pearson_distance": ("judge", "pearson_distance"), "canonical_distance": ("canonical_distance",),
                "human_sign_accuracy": ("human", "sign_accuracy"), "human_calibrated_accuracy": ("human", "calibrated_accuracy"),
                "human_auc": ("human", "auc"), "pairwise_accuracy": ("pairwise_accuracy",)}
"""The per-seed scalar metrics summarised over seeds, by name -> path in `evaluate_reward`'s output."""
SOURCE_MASKS = {"auc": lambda src: np.ones(len(src), bool), "auc_model_text": lambda src: src != "original",
                "auc_human_text": lambda src: src == "original", "auc_expert_text": lambda src: src == "expert",
                "auc_start_text": lambda src: src == "start"}
"""The test texts each AUC against the judge reads, by the source column of a text pool: all of them, the
model-written ones (the headline: who wrote a text tells nothing within it), and each source alone."""


def evaluate_reward(val_pool, test_pool, val_comments, test_comments, r: dict) -> dict:
    """Every metric of one reward given its values on the four eval sets (1-D arrays)."""
    thr_judge = metrics.best_threshold(r["val_pool"], metrics.is_toxic(val_pool.p_judge.values))
    thr_human = metrics.best_threshold(r["val_comments"], val_comments.human_label.values.astype(bool))
    src = test_pool.source.values
    within = {name.replace("auc", "judge"): mask(src) for name, mask in SOURCE_MASKS.items() if name != "auc"}
    return {
        "canonical_distance": metrics.canonical_distance(r["test_pool"], -test_pool.p_judge.values,
                                                         test_pool.prompt_id.values),
        "judge": metrics.reward_vs_judge(r["test_pool"], test_pool.p_judge.values, threshold=thr_judge),
        # within one source: "toxic" apart from "who wrote it" (most judge-toxic test texts are human)
        **{name: metrics.reward_vs_judge(r["test_pool"][m], test_pool.p_judge.values[m]) for name, m in within.items()},
        "human": metrics.reward_vs_labels(r["test_comments"], test_comments.human_label.values.astype(bool),
                                          threshold=thr_human),
        "pairwise_accuracy": metrics.pairwise_accuracy(r["test_pool"][src == "expert"], r["test_pool"][src == "start"]),
    }


def flat(result: dict) -> dict:
    """`evaluate_reward`'s nested output as the scalars of `FLAT_METRICS`."""
    out = {}
    for name, path in FLAT_METRICS.items():
        v = result
        for p in path:
            v = v[p]
        out[name] = v
    return out


def score(eval_sets: dict, r: dict) -> dict:
    """Every flat metric of one reward: `r[name]` is its values on eval set `name` (04's four sets)."""
    return flat(evaluate_reward(eval_sets["val_pool"], eval_sets["test_pool"], eval_sets["val_comments"],
                                eval_sets["test_comments"], r))


CI_METRICS = ("auc", "auc_model_text", "auc_human_text", "auc_expert_text", "auc_start_text", "human_auc",
              "pairwise_accuracy", "pearson", "sign_accuracy", "calibrated_accuracy")
"""The metrics that get an interval (irl.json: `<metric>_ci`)."""
COMPARED = ("auc", "auc_model_text", "auc_human_text", "auc_expert_text", "auc_start_text", "human_auc")
"""The metrics two rewards are compared on."""


def prompt_bootstrap(rewards: dict[str, dict], eval_sets: dict, *, n: int, ci: float, seed: int) -> dict:
    """For each reward (`rewards[name]`: its values on the four eval sets), every metric of `CI_METRICS`
    on test, with a percentile interval over `n` resamples of the test prompts. The point estimates are
    `score`'s; the resamples use the same definitions from `irlkit.metrics` on arrays, with the
    thresholds chosen on val. Keeps every resample's values (`_draws`) for `compare`."""
    pool, comments = eval_sets["test_pool"], eval_sets["test_comments"]
    prompts = comments.prompt_id.values
    code = {pid: i for i, pid in enumerate(prompts)}
    pool_prompt, comment_prompt = pool.prompt_id.map(code).values, comments.prompt_id.map(code).values
    p_judge, source = pool.p_judge.values, pool.source.values
    toxic, human = metrics.is_toxic(p_judge), comments.human_label.values.astype(bool)
    points = {name: score(eval_sets, r) for name, r in rewards.items()}
    thresholds = {name: (metrics.best_threshold(r["val_pool"], metrics.is_toxic(eval_sets["val_pool"].p_judge.values)),
                         metrics.best_threshold(r["val_comments"], eval_sets["val_comments"].human_label.values.astype(bool)))
                  for name, r in rewards.items()}
    rng = np.random.default_rng(seed)
    draws = {name: {m: np.empty(n) for m in CI_METRICS} for name in rewards}
    for b in range(n):
        weight = np.bincount(rng.integers(0, len(prompts), len(prompts)), minlength=len(prompts))
        pi = np.repeat(np.arange(len(pool_prompt)), weight[pool_prompt])  # every text of a drawn prompt, as often
        ci_ = np.repeat(np.arange(len(comment_prompt)), weight[comment_prompt])
        src, tox, pj = source[pi], toxic[pi], p_judge[pi]
        masks = {m: mask(src) for m, mask in SOURCE_MASKS.items()}
        for name, r in rewards.items():
            rp, rc = r["test_pool"][pi], r["test_comments"][ci_]
            # expert and start rows of the same prompt sit at the same place in their blocks (text_pool's order)
            d = draws[name]
            for m, mask in masks.items():
                d[m][b] = metrics.auc(rp[mask], tox[mask])
            d["human_auc"][b] = metrics.auc(rc, human[ci_])
            d["pairwise_accuracy"][b] = metrics.pairwise_accuracy(rp[src == "expert"], rp[src == "start"])
            d["pearson"][b] = metrics.pearson_r(rp, -pj)
            d["sign_accuracy"][b] = metrics.accuracy_at(rp, tox, 0.0)
            d["calibrated_accuracy"][b] = metrics.accuracy_at(rp, tox, thresholds[name][0])
    out = {}
    for name in rewards:
        out[name] = {m: {"value": points[name][m], "ci": _percentile(draws[name][m], ci)} for m in CI_METRICS}
        out[name]["_draws"] = draws[name]
    return out


def _percentile(values, ci: float) -> list[float]:
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if not len(v):
        return [float("nan"), float("nan")]
    lo, hi = np.quantile(v, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return [float(lo), float(hi)]


def compare(cis: dict, a: str, b: str, ci: float = 0.95) -> dict:
    """Paired bootstrap of metric(a) − metric(b) on the same resampled prompts: the difference, its
    percentile interval and a two-sided p-value (twice the share of resampled differences on the other
    side of zero, at least 1/n)."""
    out = {}
    for m in COMPARED:
        d = cis[a]["_draws"][m] - cis[b]["_draws"][m]
        d = d[~np.isnan(d)]
        if not len(d):
            out[m] = {"diff": float("nan"), "ci": [float("nan")] * 2, "p_value": float("nan")}
            continue
        p = min(1.0, 2 * max(min(np.mean(d <= 0), np.mean(d >= 0)), 1 / len(d)))
        out[m] = {"diff": cis[a][m]["value"] - cis[b][m]["value"], "ci": _percentile(d, ci), "p_value": float(p)}
    return out


def flat_with_ci(cis: dict) -> dict:
    """One reward's entry of `prompt_bootstrap` as irl.json keys: `<metric>` and `<metric>_ci`."""
    return {k: v for m in CI_METRICS for k, v in ((m, cis[m]["value"]), (f"{m}_ci", cis[m]["ci"]))}


def excess_share(auc: float, ceiling_auc: float) -> float:
    """A reward's AUC as a share of the ceiling's, both as excess over chance: (AUC − 0.5) / (ceiling − 0.5)."""
    return float((auc - 0.5) / (ceiling_auc - 0.5)) if ceiling_auc > 0.5 else float("nan")


CEILING_C = tuple(float(c) for c in np.logspace(-5, 2, 15))
"""The ceiling's grid of inverse regularisation C, wide enough that val's choice is interior (irl.json records
`C_interior`): the judge-labelled training texts favour strong regularisation."""


def ceiling(feats: dict, train_toxic: np.ndarray, val_pool, Cs=CEILING_C):
    """The supervised linear ceiling: logistic regression on the same standardised frozen features,
    fitted to the judge's labels of the training texts (expert then start continuations), its inverse
    regularisation C chosen by val AUC. Returns (C, the grid, {eval set: reward values}) with reward = −logit,
    or (None, the grid, None) when the training texts hold one class only."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(train_toxic)) < 2:
        return None, Cs, None  # the judge finds no toxic (or no clean) training text: nothing to fit
    x = np.concatenate([feats["train_expert"], feats["train_start"]])
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = lambda a: (a - mu) / sd  # noqa: E731
    best = (-np.inf, None, None)
    for c in Cs:
        model = LogisticRegression(C=c, max_iter=5000).fit(z(x), train_toxic)
        val_auc = metrics.reward_vs_judge(-model.decision_function(z(feats["val_pool"])), val_pool.p_judge.values)["auc"]
        if val_auc > best[0]:
            best = (val_auc, c, model)
    _, c, model = best
    return c, Cs, {name: -model.decision_function(z(feats[name])) for name in ("val_pool", "test_pool", "val_comments",
                                                                              "test_comments")}
