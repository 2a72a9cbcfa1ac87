"""Replicates: provenance of each, and the summary over them that every headline number comes from.

    manifest = replicates.manifest(cfg, replicate=0, seconds={"01_rlhf": 784.0})  # what the runner writes
    runs, left_out = replicates.collect(Layout("cpu"), cfg)       # committed replicates of this code
    summary = replicates.summarise(runs)                           # -> summary.json

A replicate is the whole study (01–05, every size) with its own seeds. Replicates are comparable
only when the config and the code that made them are the same: `collect` keeps one such group (this
checkout's when it has any) and names the others; `summarise` refuses a mixed set.

Interval: with n replicates (3 in cpu), a t-interval over the n per-replicate values,
mean ± t(0.975, n−1)·sd/√n; a paired difference gets the same interval and a one-sample t-test
(`scipy.stats.ttest_1samp`). A bootstrap over three values would understate the spread.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
from scipy import stats

from irlkit import layout

from irlkit.provenance import CODE, RENDER_ONLY, code_hash, cpu_model  # noqa: F401  (defined there)

from irlkit.quantities import ARMS, QUANTITIES, paired as _paired, scale_of  # noqa: E402  (declared there, with every quantity)


def manifest(cfg, replicate: int, seconds: dict, results: Path | None = None) -> dict:
    """A replicate's provenance: what it ran with (config and code hash), where, how long, and the content hash of
    every result file in its folder `results` (`files`), which 06 checks before it reads them."""
    from irlkit.config import for_replicate

    return {"profile": cfg.profile, "replicate": replicate, "seed": for_replicate(cfg, replicate).seed,
            "config_hash": cfg.hash(), "code_hash": code_hash(), "cpu": cpu_model(), "threads": cfg.threads,
            "workers": cfg.workers, "seconds": seconds, "total_seconds": round(sum(seconds.values()), 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **({"files": result_files(results)} if results else {})}


def result_files(results) -> dict[str, str]:
    """{file name: SHA-256} of a replicate's result files (all but its manifest; none where it wrote none)."""
    from irlkit.store import content_hashes

    return content_hashes(results) if Path(results).is_dir() else {}


def disagreement(manifest: dict, results) -> str | None:
    """What in a replicate's results folder differs from its manifest (None: nothing, or a manifest from before
    `files` was recorded): a result file changed, missing, or written after the replicate finished."""
    if "files" not in manifest:
        return None
    now = result_files(results)
    for name, expected in manifest["files"].items():
        if name not in now:
            return f"{name} is missing"
        if now[name] != expected:
            return f"{name} differs from what its manifest.json recorded (changed after the replicate finished)"
    extra = sorted(set(now) - set(manifest["files"]))
    return f"{', '.join(extra)} written after the replicate finished" if extra else None


def collect(where: layout.Layout, cfg) -> tuple[dict[int, dict], dict[int, str]]:
    """({k: that replicate's results, by file name}, {k: why it is left out}) of the committed replicates
    that are complete and were made by one config and one code: this checkout's when any were, else the
    group of the most recently finished replicate (06 then says so: its numbers are another code's)."""
    want = (cfg.hash(), code_hash())
    finished, left_out = {}, {}
    for k, folder in where.replicate_results().items():
        path = folder / "manifest.json"
        if not path.exists():
            left_out[k] = "no manifest.json: the replicate did not finish 05"
            continue
        m = json.loads(path.read_text())
        problem = disagreement(m, folder)
        if problem:
            left_out[k] = f"{problem}: rerun the replicate, or restore its files"
            continue
        finished[k] = (m, folder)
    groups = {}
    for k, (m, _) in finished.items():
        groups.setdefault((m.get("config_hash"), m.get("code_hash")), []).append(k)
    if not groups:
        return {}, left_out
    chosen = want if want in groups else max(groups, key=lambda g: max(finished[k][0].get("finished", "") for k in groups[g]))
    runs = {}
    for k, (m, folder) in finished.items():
        if (m.get("config_hash"), m.get("code_hash")) != chosen:
            left_out[k] = f"made by config {m.get('config_hash')}, code {m.get('code_hash')}; kept: config {chosen[0]}, code {chosen[1]}"
            continue
        runs[k] = {"manifest": m, **{p.stem: json.loads(p.read_text()) for p in folder.glob("*.json") if p.name != "manifest.json"}}
    return dict(sorted(runs.items())), left_out


def is_current(runs: dict[int, dict], cfg) -> bool:
    """Whether `collect`'s replicates were made by this checkout's config and code."""
    return bool(runs) and all((r["manifest"]["config_hash"], r["manifest"]["code_hash"]) == (cfg.hash(), code_hash())
                              for r in runs.values())


SCALES = {"linear": (lambda x: x, lambda y: y),
          "logit": (lambda x: np.log(np.clip(x, 1e-6, 1 - 1e-6) / (1 - np.clip(x, 1e-6, 1 - 1e-6))),
                    lambda y: 1 / (1 + np.exp(-y))),
          "log1p": (lambda x: np.log1p(np.clip(x, -1 + 1e-6, None)), np.expm1)}
"""Where a t-interval is computed, by the range a quantity can take (`quantities.Quantity.scale`): AUCs and
ratios in (0, 1) on the logit scale, relative changes (≥ −1) on log(1 + x), the rest as they are; the interval
is mapped back, so it never leaves the range."""


def interval(values, ci: float = 0.95, scale: str = "linear") -> dict:
    """Mean and t-interval over replicates, computed on `scale` (`SCALES`) and mapped back; `ci` is NaN with
    fewer than two values."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], float)
    out = {"values": [float(x) for x in values], "mean": float(v.mean()) if len(v) else float("nan"), "n": len(v)}
    forward, back = SCALES[scale]
    t = forward(v) if len(v) else v
    if len(v) >= 2 and t.std(ddof=1) > 0:
        half = stats.t.ppf(0.5 + ci / 2, len(v) - 1) * t.std(ddof=1) / math.sqrt(len(v))
        out["ci"] = [float(back(t.mean() - half)), float(back(t.mean() + half))]
    else:
        out["ci"] = [out["mean"], out["mean"]] if len(v) >= 2 else [float("nan"), float("nan")]
    if scale != "linear":
        out["scale"] = scale
    return out


def paired(a, b, ci: float = 0.95) -> dict:
    """The per-replicate difference a − b: its interval and a one-sample t-test against 0."""
    d = [x - y for x, y in zip(a, b)]
    out = interval(d, ci)
    out["p_value"] = float(stats.ttest_1samp(d, 0.0).pvalue) if out["n"] >= 2 and np.std(d) > 0 else float("nan")
    return out


WITHIN = ("auc", "auc_model_text", "auc_human_text", "auc_expert_text", "auc_start_text")
"""A reward's AUCs against the judge: all test texts, model-written only, and each source alone (`evidence.SOURCE_MASKS`)."""


def quantities(results: dict) -> dict[str, dict[str, float]]:
    """{size: {quantity: value}} of one replicate, from its rlhf, sampling, irl and refinetune results. A quantity
    its results do not hold (results of an older code) is left out."""
    rlhf, irl = results["rlhf"]["sizes"], results["irl"]["sizes"]
    sampling = (results.get("sampling") or {}).get("sizes", {})
    refinetune = results.get("refinetune", {}).get("sizes", {})
    out = {}
    for size, r in rlhf.items():
        q = {"ratio_start": r["judge"]["before"]["ratio"], "ratio_rlhf": r["judge"]["after"]["ratio"],
             "rlhf_relative_change": r["judge"]["paired"]["ratio_relative_change"],
             "rlhf_relative_change_second": r["second"]["paired"]["ratio_relative_change"],
             "rlhf_perplexity_change": r["perplexity"]["rlhf"] / r["perplexity"]["start"] - 1}
        if "kl_to_start" in r:
            q["rlhf_kl"] = r["kl_to_start"]["kl"]
        train = sampling.get(size, {}).get("splits", {}).get("train", {})
        if "mean_judge_gap" in train:  # what the demonstrations carry of the goal
            q.update(demo_judge_agreement=train["judge_prefers_expert"], demo_ties=train["ties"],
                     demo_judge_gap=train["mean_judge_gap"])
        s = irl[size]
        selected = s["models"][s["selected"]]["selected_on_val"]
        if "oracle_selected" in s:  # `selected` chosen without labels, the judge's choice beside it
            q["irl_human_auc"] = selected["human_auc"]
            label_free, oracle = selected, s.get("oracle_reward", {})
        else:  # results of a code that chose `selected` with the judge's val AUC: that reward is the oracle's
            label_free, oracle = {}, selected
        references = (("irl", label_free), ("oracle_irl", oracle), ("implicit", s["implicit"]["sum"]), ("random", s["random"]),
                      ("source_only", s.get("source_only", {})), ("judge_oriented", s.get("judge_oriented", {})),
                      ("ceiling", s.get("ceiling", {})))
        for reward, entry in references:
            q.update({f"{reward}_{m}": entry[m] for m in WITHIN if m in entry})
        for m, band in s.get("null_band", {}).items():
            if isinstance(band, dict):
                q[f"null_{m}_hi"], q[f"null_{m}_lo"] = band["q975"], band["q025"]
        share = s.get("share_of_ceiling")
        if isinstance(share, dict):  # as excess over chance (an older code's was a plain ratio of AUCs: left out)
            q.update(irl_share_of_ceiling=share["auc"], irl_share_of_ceiling_model_text=share["auc_model_text"])
        for arm in ARMS:
            entry = _arm(refinetune.get(size, {}), arm)
            if entry is not None:
                q[f"realign_relative_change_{arm.name}"] = entry[0]
                q[f"ratio_{arm.name}"] = entry[1]
            endpoint = _arm_entry(refinetune.get(size, {}), arm).get("endpoint")
            if endpoint:  # the primary endpoint: mean P(toxic) of sampled continuations, relative to the start's
                q[f"realign_endpoint_{arm.name}"] = endpoint["judge"]["vs_start"]["relative"]
                q[f"realign_endpoint_{arm.name}_second"] = endpoint["second"]["vs_start"]["relative"]
        for when, key in (("endpoint", "endpoint_comparisons"), ("matched_kl", "matched_kl")):
            for name, c in refinetune.get(size, {}).get(key, {}).items():  # each read under its primary judge
                q[f"realign_{when}_{name}"] = c[c["primary"]]["relative"]
        if "realign_relative_change_irl" in q and "realign_relative_change_true" in q:
            true_cut = q["realign_relative_change_true"]
            q["irl_share_of_true_cut"] = q["realign_relative_change_irl"] / true_cut if true_cut else float("nan")
        out[size] = q
    return out


def test_intervals(results: dict) -> dict[str, dict[str, list[float]]]:
    """{size: {quantity: [lo, hi]}} of one replicate: the bootstrap interval over its test prompts that 01
    and 04 report beside a quantity of `quantities`, where they report one. It measures how much the test
    texts move a number within one RLHF draw, not the spread over draws that the t-interval over
    replicates measures: with one replicate it is the only interval there is."""
    out = {}
    for size, r in results["rlhf"]["sizes"].items():
        s = results["irl"]["sizes"][size]
        found = {"ratio_start": r["judge"]["before"].get("ratio_ci"), "ratio_rlhf": r["judge"]["after"].get("ratio_ci"),
                 "irl_human_auc": s.get("selected_reward", {}).get("human_auc_ci")}
        for reward, key in (("irl", "selected_reward"), ("oracle_irl", "oracle_reward"), ("source_only", "source_only"),
                            ("random", "random")):
            found.update({f"{reward}_{m}": s.get(key, {}).get(f"{m}_ci") for m in WITHIN})
        found.update({f"implicit_{m}": s["implicit"]["sum"].get(f"{m}_ci") for m in WITHIN})
        out[size] = {k: [float(x) for x in v] for k, v in found.items() if v is not None}
    return out


def _arm_entry(entries: dict, arm) -> dict:
    """refinetune.json's entry of one arm of 05 for one size ({} where it has none)."""
    name = next((k for k in entries if k == arm.name or (arm.prefix and k.startswith(f"{arm.name}_from_"))), None)
    return entries[name] if name is not None else {}


def _arm(entries: dict, arm) -> tuple[float, float] | None:
    """(relative change of the judge's toxicity ratio, ratio after) of one arm of 05, averaged over its
    RLOO runs when it has several (the random heads)."""
    e = _arm_entry(entries, arm)
    if not e:
        return None
    if "across_runs" in e:
        a = e["across_runs"]["judge"]
        return a["ratio_relative_change"], a["start_ratio"] + a["ratio_diff"]["diff"]
    return e["judge"]["paired"]["ratio_relative_change"], e["judge"]["after"]["ratio"]


PAIRED = _paired()
"""The paired comparisons of the summary: {name: (a, b)}, the per-replicate difference a − b (the two
measured in the same replicate, on the same test texts), with its t-interval and p-value (`quantities.QUANTITIES`)."""


def random_effects(estimates, standard_errors, ci: float = 0.95) -> dict:
    """Mean over replicates of a difference that each replicate estimates with a standard error of its own: a
    random-effects model (between-replicate variance τ² by DerSimonian–Laird) with the Hartung–Knapp t-interval on
    k − 1 degrees of freedom, never narrower than the DerSimonian–Laird one. The interval counts both the spread
    within a replicate (its RLOO runs and prompts) and the spread between replicates (their RLHF runs, demonstrations
    and recovered rewards). p: the t-test of the mean against 0."""
    y, se = np.asarray(estimates, float), np.asarray(standard_errors, float)
    out = {"values": y.tolist(), "se_within": se.tolist(), "n": len(y),
           "mean": float(y.mean()) if len(y) else float("nan"), "ci": [float("nan")] * 2, "p_value": float("nan")}
    if len(y) < 2 or not np.all(se > 0):
        return out
    w = 1 / se ** 2
    q = float(np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2))
    tau2 = max(0.0, (q - (len(y) - 1)) / (w.sum() - np.sum(w ** 2) / w.sum()))
    w = 1 / (se ** 2 + tau2)
    mean = float(np.sum(w * y) / w.sum())
    se_mean = max(math.sqrt(1 / w.sum()), math.sqrt(np.sum(w * (y - mean) ** 2) / ((len(y) - 1) * w.sum())))
    half = stats.t.ppf(0.5 + ci / 2, len(y) - 1) * se_mean
    out.update(mean=mean, ci=[mean - half, mean + half], se=se_mean, tau2=tau2,
               p_value=float(2 * stats.t.sf(abs(mean) / se_mean, len(y) - 1)))
    return out


def pooled_comparisons(runs: dict[int, dict], size: str, ci: float = 0.95) -> dict[str, dict]:
    """05's comparisons of IRL with the other arms (`realign_<when>_irl_vs_<other>_pooled_<judge>`: at the end of
    training on the evaluation prompts, and at equal KL on the val prompts; under each judge) over replicates and
    prompts together: each replicate's relative difference with the standard error of its two-level bootstrap over
    RLOO runs and prompts (the `ci` interval's width over 2·z), pooled by `random_effects`. An IRL − true
    comparison also says whether its interval lies inside ±its margin (`equivalent`)."""
    per = {}
    for k, run in sorted(runs.items()):
        entries = ((run.get("refinetune") or {}).get("sizes") or {}).get(size, {})
        for when, key in (("endpoint", "endpoint_comparisons"), ("matched_kl", "matched_kl")):
            for name, c in entries.get(key, {}).items():
                for judge in ("judge", "second"):
                    lo, hi = c[judge]["relative_ci"]
                    se = (hi - lo) / (2 * stats.norm.ppf(0.5 + ci / 2))
                    per.setdefault(f"realign_{when}_{name}_pooled_{judge}", []).append(
                        (c[judge]["relative"], se, c[judge]["margin"]))
    out = {}
    for name, rows in per.items():
        if len(rows) != len(runs):  # a replicate without this comparison: not pooled over a subset
            continue
        out[name] = random_effects([r[0] for r in rows], [r[1] for r in rows], ci)
        if "_irl_vs_true_" in name:
            margin = rows[0][2]
            out[name].update(margin=margin, equivalent=bool(-margin < out[name]["ci"][0] and out[name]["ci"][1] < margin))
    return out


def summarise(runs: dict[int, dict], ci: float = 0.95) -> dict:
    """summary.json: per size and quantity, every replicate's value, the mean and its interval (and, where
    01 or 04 reported one, each replicate's `test_ci` of `test_intervals`); and the paired per-replicate
    differences of `PAIRED` (e.g. `irl_minus_random`, of relative change) with p-values."""
    hashes = {(r["manifest"]["config_hash"], r["manifest"]["code_hash"]) for r in runs.values()}
    if len(hashes) > 1:
        raise ValueError("replicates made by different configs or code cannot be aggregated: "
                         + "; ".join(f"r{k}: config {r['manifest']['config_hash']}, code {r['manifest']['code_hash']}"
                                     for k, r in sorted(runs.items())))
    per = {k: quantities(r) for k, r in sorted(runs.items())}
    within = {k: test_intervals(r) for k, r in sorted(runs.items())}
    sizes = list(next(iter(per.values()))) if per else []
    out = {"n_replicates": len(per), "replicates": [f"r{k}" for k in per], "interval": f"t-interval over replicates, {ci:.0%}",
           "config_hash": next(iter(hashes))[0] if hashes else None, "code_hash": next(iter(hashes))[1] if hashes else None,
           "sizes": {}}
    for size in sizes:
        names = list(dict.fromkeys(n for q in per.values() for n in q[size]))
        values = {n: [q[size].get(n, float("nan")) for q in per.values()] for n in names}
        entry = {n: interval(v, ci, scale_of(n)) for n, v in values.items()}
        for n in entry:  # each replicate's own test-set interval, beside the interval over replicates
            if any(n in w[size] for w in within.values()):
                entry[n]["test_ci"] = [w[size].get(n) for w in within.values()]
        for name, (a, b) in PAIRED.items():
            if a in values and b in values:
                entry[name] = paired(values[a], values[b], ci)
        entry.update(pooled_comparisons(runs, size, ci))
        out["sizes"][size] = entry
    out["holm_families"] = holm(out["sizes"])
    out["cross_replicate_agreement"] = {size: agreement(runs, size) for size in sizes}
    return out


def size_difference(summary: dict, params_m: dict[str, float], ci: float = 0.95) -> dict | None:
    """For a size axis (one family): the largest size minus the smallest, paired by replicate (replicate k of both
    sizes shares a seed and a test split), for every quantity both hold: its interval over replicates and p. None
    with fewer than two sizes."""
    if len(summary["sizes"]) < 2:
        return None
    small, large = (min(summary["sizes"], key=params_m.get), max(summary["sizes"], key=params_m.get))
    a, b = summary["sizes"][large], summary["sizes"][small]
    return {"larger": large, "smaller": small, "interval": f"t-interval over replicates of the paired difference, {ci:.0%}",
            "quantities": {n: paired(a[n]["values"], b[n]["values"], ci) for n in a
                           if n in b and isinstance(a[n], dict) and "values" in a[n] and "values" in b[n]}}


DOSE = ("rlhf_kl", "irl_auc_model_text", "implicit_auc_model_text", "judge_oriented_auc_model_text",
        "source_only_auc_model_text", "null_auc_model_text_lo", "null_auc_model_text_hi", "demo_judge_gap",
        "demo_judge_agreement", "irl_auc", "ceiling_auc_model_text", "irl_minus_source_only_model_text")
"""What the RLHF-strength sweep reads of each replicate: how far RLHF moved the policy, and recovery against it
(and beyond the author: IRL minus the source-only reward, which also grows as the policies' texts part)."""


def reward_dose(runs: dict[int, dict], ci: float = 0.95, n: int = 1000, seed: int = 0) -> dict:
    """Re-alignment's dose–response over replicates, per size: every run of a probe reward (`quantities.dose_points`)
    and the Spearman correlation of its toxicity change with its reward's label-free agreement and with its AUC
    against the judge (model-written texts), with a bootstrap interval over runs and n. Negative: the better a reward
    orders the demonstrations (or the judge's texts), the more it lowered toxicity."""
    from irlkit.metrics import spearman_r
    from irlkit.quantities import dose_points

    points: dict[str, list] = {}
    for k, r in runs.items():
        for size, rows in dose_points(r.get("refinetune", {}).get("sizes", {}), k).items():
            points.setdefault(size, []).extend(rows)
    out, rng = {}, np.random.default_rng(seed)
    for size, rows in points.items():
        y = np.array([p["relative_change"] for p in rows])
        entry = {"points": rows}
        for x_name in ("val_pair_accuracy", "auc_model_text"):
            x = np.array([p[x_name] for p in rows])
            ok = ~(np.isnan(x) | np.isnan(y))
            if ok.sum() < 4:
                continue
            rho = spearman_r(x[ok], y[ok])
            idx = np.flatnonzero(ok)
            boots = [spearman_r(x[b], y[b]) for b in (rng.choice(idx, len(idx)) for _ in range(n))]
            lo, hi = np.nanquantile(boots, [(1 - ci) / 2, 1 - (1 - ci) / 2])
            entry[f"spearman_{x_name}"] = {"rho": rho, "ci": [float(lo), float(hi)], "n": int(ok.sum())}
        out[size] = entry
    return out


def _with_differences(per_size: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """One replicate's quantities with the `DOSE` ones that are differences of two others (`Quantity.paired`)."""
    from irlkit.quantities import QUANTITIES

    for q in per_size.values():
        for name in DOSE:
            pair = getattr(QUANTITIES.get(name), "paired", ())
            if pair and all(p in q and q[p] is not None for p in pair):
                q[name] = q[pair[0]] - q[pair[1]]
    return per_size


def strength(where: layout.Layout, cfg) -> dict:
    """The RLHF-strength sweep of `cfg`'s profile (`config.STRENGTH`): per level with kept replicates, its settings,
    the summary over its replicates (`summarise`) and, per size, each replicate's `DOSE` quantities (the figure's
    dots); and per size the strongest level minus the weakest, paired by replicate (replicate k of every level
    runs with the same seed), for every `DOSE` quantity both levels hold."""
    from irlkit import config

    levels = {}
    for lv in config.STRENGTH.get(cfg.profile, ()):
        level_cfg = config.load(cfg.profile, level=lv.name, seed=cfg.seed, **{"data.sealed": cfg.data.sealed})
        runs, left_out = collect(where.of_level(lv.name), level_cfg)
        if not runs:
            continue
        per = {k: _with_differences(quantities(r)) for k, r in runs.items()}
        levels[lv.name] = {
            "settings": dict(lv.settings), "current": is_current(runs, level_cfg),
            "left_out": {f"r{k}": why for k, why in left_out.items()}, "summary": summarise(runs),
            "points": {size: [{"replicate": k, **{n: q[size].get(n) for n in DOSE if n in q[size]}} for k, q in per.items()]
                       for size in next(iter(per.values()))}}
    out = {"levels": levels, "strongest_minus_weakest": {}}
    if len(levels) >= 2:
        weak, strong = (levels[name]["points"] for name in (next(iter(levels)), list(levels)[-1]))
        for size in strong:
            a = {p["replicate"]: p for p in strong.get(size, [])}
            b = {p["replicate"]: p for p in weak.get(size, [])}
            both = sorted(set(a) & set(b))
            out["strongest_minus_weakest"][size] = {
                n: {**paired([a[k][n] for k in both], [b[k][n] for k in both]), "replicates": [f"r{k}" for k in both]}
                for n in DOSE if both and all(n in a[k] and n in b[k] for k in both)}
    return out


def long_table(summary: dict, profile: str) -> "pd.DataFrame":
    """summary.json as one row per (level, size, quantity, replicate) with its value: what pandas and seaborn plot
    without reading nested JSON (`summary.csv`). `level` is "" for the profile's own replicates."""
    import pandas as pd

    rows = []

    def add(level: str, part: dict) -> None:
        reps = part.get("replicates", [])
        for size, entry in part.get("sizes", {}).items():
            for name, q in entry.items():
                if isinstance(q, dict) and "values" in q and name not in PAIRED:
                    rows.extend({"profile": profile, "level": level, "size": size, "quantity": name, "replicate": rep,
                                 "value": value} for rep, value in zip(reps, q["values"]))

    add("", summary)
    for level, part in summary.get("strength", {}).get("levels", {}).items():
        add(level, part["summary"])
    return pd.DataFrame(rows, columns=["profile", "level", "size", "quantity", "replicate", "value"])


def claim_family(name: str) -> str | None:
    """The family of paired claims a summary quantity belongs to, for Holm's adjustment (`quantities.Quantity.family`:
    `recovery` or `re-alignment`); None for a quantity that is not a paired claim."""
    q = QUANTITIES.get(name)
    return (q.family or None) if q else None


def holm(sizes: dict) -> dict[str, int]:
    """Holm's step-down adjustment within each family of paired claims of the summary (`claim_family`; every size's
    claims together), written beside each raw p-value as `p_holm`. Returns each family's size."""
    families = {}
    for size, entry in sizes.items():
        for name, q in entry.items():
            family = claim_family(name)
            if family and q["p_value"] == q["p_value"]:
                families.setdefault(family, []).append((size, name))
    for family in families.values():
        running = 0.0
        for i, (size, name) in enumerate(sorted(family, key=lambda k: sizes[k[0]][k[1]]["p_value"])):
            running = max(running, min(1.0, (len(family) - i) * sizes[size][name]["p_value"]))
            sizes[size][name]["p_holm"] = running
    return {name: len(members) for name, members in families.items()}


def agreement(runs: dict[int, dict], size: str) -> dict | None:
    """Rewards recovered from independent RLHF runs, compared like with like: one method for every replicate,
    chosen label-free over them (the mode/loss with the best `metrics.LABEL_FREE`, averaged over replicates), each
    replicate's label-free seed of it scored on the test texts every replicate shares (human and start-policy
    continuations). The replicate × replicate Spearman matrix, and beside it on the same texts with the same
    method: its seeds within one replicate, two disjoint halves of one replicate's demonstrations (the same RLHF
    run, new demonstrations), and what rewards of the same AUCs would agree if each were the judge plus independent
    noise (`noise_reference`). None before such results."""
    from irlkit.metrics import LABEL_FREE, auc, is_toxic, label_free_best, mean_off_diagonal, seed_agreement

    irls = [r["irl"]["sizes"][size] for r in runs.values()]
    models = [m for m in irls[0]["models"]
              if all("shared_scores" in i["models"].get(m, {}).get("selected_on_val", {}) for i in irls)]
    if len(irls) < 2 or not models or not all("shared_p_judge" in i for i in irls):
        return None
    method = models[label_free_best([{k: float(np.mean([i["models"][m][k]["mean"] for i in irls])) for k in LABEL_FREE}
                                     for m in models])]
    scores = np.array([i["models"][method]["selected_on_val"]["shared_scores"] for i in irls])
    rho = seed_agreement(scores)
    toxic = is_toxic(np.array(irls[0]["shared_p_judge"]))
    aucs = [auc(row, toxic) for row in scores]
    halves = [i["halves"][method] for i in irls if method in i.get("halves", {})]
    return {"method": method, "selection": "label-free, over replicates", "replicates": [f"r{k}" for k in runs],
            "n_texts": int(scores.shape[1]), "spearman": rho.tolist(), "spearman_mean": mean_off_diagonal(rho),
            "within_replicate_seeds": float(np.mean([i["models"][method]["seed_agreement_shared_mean"] for i in irls])),
            "demonstration_halves": float(np.mean(halves)) if halves else None,
            "judge_plus_noise": noise_reference(np.array(irls[0]["shared_p_judge"]), aucs),
            "auc_shared_texts": interval(aucs, scale="logit")}


def noise_reference(p_judge: np.ndarray, aucs: list[float], draws: int = 50, seed: int = 0) -> float:
    """The mean Spearman ρ between rewards −P_judge + σᵢ·εᵢ (independent standard normal noise), each σᵢ set so
    that reward i's AUC against the judge matches `aucs[i]` (pure noise at an AUC ≤ 0.5): how far rewards that all
    read the goal, and differ only by noise, would agree. Agreement above it is a shared component that is not
    the judge's."""
    from scipy.stats import spearmanr

    from irlkit.metrics import auc, is_toxic

    toxic, rng = is_toxic(p_judge), np.random.default_rng(seed)

    def noisy(target: float, noise: np.ndarray) -> np.ndarray:
        if not target > 0.5:
            return noise
        lo, hi = -6.0, 6.0  # log10 σ, by bisection: the AUC falls from 1 towards 0.5 as σ grows
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if auc(-p_judge + 10 ** mid * noise, toxic) > target else (lo, mid)
        return -p_judge + 10 ** ((lo + hi) / 2) * noise

    rhos = []
    for _ in range(draws):
        r = [noisy(a, rng.standard_normal(len(p_judge))) for a in aucs]
        rhos += [spearmanr(r[i], r[j])[0] for i in range(len(r)) for j in range(i + 1, len(r))]
    return float(np.mean(rhos))
