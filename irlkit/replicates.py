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

import numpy as np
from scipy import stats

from irlkit import layout

from irlkit.provenance import CODE, RENDER_ONLY, code_hash, cpu_model  # noqa: F401  (defined there)

from irlkit.quantities import ARMS, paired as _paired  # noqa: E402  (declared there, with every summary quantity)


def manifest(cfg, replicate: int, seconds: dict) -> dict:
    """A replicate's provenance: what it ran with (config and code hash), where, how long."""
    from irlkit.config import for_replicate

    return {"profile": cfg.profile, "replicate": replicate, "seed": for_replicate(cfg, replicate).seed,
            "config_hash": cfg.hash(), "code_hash": code_hash(), "cpu": cpu_model(), "threads": cfg.threads,
            "workers": cfg.workers, "seconds": seconds, "total_seconds": round(sum(seconds.values()), 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


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
        finished[k] = (json.loads(path.read_text()), folder)
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


def interval(values, ci: float = 0.95) -> dict:
    """Mean and t-interval over replicates; `ci` is NaN with fewer than two values."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], float)
    out = {"values": [float(x) for x in values], "mean": float(v.mean()) if len(v) else float("nan"), "n": len(v)}
    if len(v) >= 2 and v.std(ddof=1) > 0:
        half = stats.t.ppf(0.5 + ci / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
        out["ci"] = [out["mean"] - half, out["mean"] + half]
    else:
        out["ci"] = [out["mean"], out["mean"]] if len(v) >= 2 else [float("nan"), float("nan")]
    return out


def paired(a, b, ci: float = 0.95) -> dict:
    """The per-replicate difference a − b: its interval and a one-sample t-test against 0."""
    d = [x - y for x, y in zip(a, b)]
    out = interval(d, ci)
    out["p_value"] = float(stats.ttest_1samp(d, 0.0).pvalue) if out["n"] >= 2 and np.std(d) > 0 else float("nan")
    return out


def quantities(results: dict) -> dict[str, dict[str, float]]:
    """{size: {quantity: value}} of one replicate, from its rlhf, irl and refinetune results."""
    rlhf, irl = results["rlhf"]["sizes"], results["irl"]["sizes"]
    refinetune = results.get("refinetune", {}).get("sizes", {})
    out = {}
    for size, r in rlhf.items():
        q = {"ratio_start": r["judge"]["before"]["ratio"], "ratio_rlhf": r["judge"]["after"]["ratio"],
             "rlhf_relative_change": r["judge"]["paired"]["ratio_relative_change"],
             "rlhf_relative_change_second": r["second"]["paired"]["ratio_relative_change"],
             "rlhf_perplexity_change": r["perplexity"]["rlhf"] / r["perplexity"]["start"] - 1}
        s = irl[size]
        selected = s["models"][s["selected"]]["selected_on_val"]
        q.update(irl_auc=selected["auc"], irl_human_auc=selected["human_auc"], implicit_auc=s["implicit"]["sum"]["auc"],
                 random_auc=s["random"]["auc"])
        for reward, entry in (("irl", selected), ("implicit", s["implicit"]["sum"]), ("random", s["random"])):
            if "auc_model_text" in entry:  # within-source AUCs (results since the evidence change)
                q[f"{reward}_auc_model_text"] = entry["auc_model_text"]
                q[f"{reward}_auc_human_text"] = entry["auc_human_text"]
        if "ceiling" in s:
            q.update(ceiling_auc=s["ceiling"]["auc"], irl_share_of_ceiling=s["share_of_ceiling"])
        for arm in ARMS:
            entry = _arm(refinetune.get(size, {}), arm)
            if entry is not None:
                q[f"realign_relative_change_{arm.name}"] = entry[0]
                q[f"ratio_{arm.name}"] = entry[1]
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
        selected, implicit, random = s.get("selected_reward", {}), s["implicit"]["sum"], s["random"]
        found = {"ratio_start": r["judge"]["before"].get("ratio_ci"), "ratio_rlhf": r["judge"]["after"].get("ratio_ci"),
                 "irl_auc": selected.get("auc_ci"), "irl_human_auc": selected.get("human_auc_ci"),
                 "irl_auc_model_text": selected.get("auc_model_text_ci"), "implicit_auc": implicit.get("auc_ci"),
                 "random_auc": random.get("auc_ci")}
        out[size] = {k: [float(x) for x in v] for k, v in found.items() if v is not None}
    return out


def _arm(entries: dict, arm) -> tuple[float, float] | None:
    """(relative change of the judge's toxicity ratio, ratio after) of one arm of 05, averaged over its
    RLOO runs when it has several (the random heads)."""
    name = next((k for k in entries if k == arm.name or (arm.prefix and k.startswith(f"{arm.name}_from_"))), None)
    if name is None:
        return None
    e = entries[name]
    if "across_runs" in e:
        a = e["across_runs"]["judge"]
        return a["ratio_relative_change"], a["start_ratio"] + a["ratio_diff"]["diff"]
    return e["judge"]["paired"]["ratio_relative_change"], e["judge"]["after"]["ratio"]


PAIRED = _paired()
"""The paired comparisons of the summary: {name: (a, b)}, the per-replicate difference a − b (the two
measured in the same replicate, on the same test texts), with its t-interval and p-value (`quantities.QUANTITIES`)."""


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
        entry = {n: interval(v, ci) for n, v in values.items()}
        for n in entry:  # each replicate's own test-set interval, beside the interval over replicates
            if any(n in w[size] for w in within.values()):
                entry[n]["test_ci"] = [w[size].get(n) for w in within.values()]
        for name, (a, b) in PAIRED.items():
            if a in values and b in values:
                entry[name] = paired(values[a], values[b], ci)
        out["sizes"][size] = entry
    out["cross_replicate_agreement"] = {size: agreement(runs, size) for size in sizes}
    return out


def agreement(runs: dict[int, dict], size: str) -> dict | None:
    """Rewards recovered from independent RLHF runs, on the same held-out texts (the human and start-policy
    continuations of the test prompts, which every replicate shares): the replicate × replicate Spearman
    matrix of their scores, the cosine between their heads (in the raw feature space), and their AUCs.
    "Different rewards, same behaviour", measured on independent experts. None before such results."""
    from irlkit.metrics import mean_off_diagonal, seed_agreement

    chosen = [r["irl"]["sizes"][size]["selected_reward"] for r in runs.values()
              if "shared_scores" in r["irl"]["sizes"][size].get("selected_reward", {})]
    if len(chosen) < 2:
        return None
    rho = seed_agreement(np.array([c["shared_scores"] for c in chosen]))
    out = {"replicates": [f"r{k}" for k in runs], "spearman": rho.tolist(), "spearman_mean": mean_off_diagonal(rho),
           "auc": interval([c["auc"] for c in chosen])}
    if all("head" in c for c in chosen):
        heads = np.array([c["head"] for c in chosen])
        unit = heads / np.linalg.norm(heads, axis=1, keepdims=True)
        cosine = unit @ unit.T
        out.update(cosine=cosine.tolist(), cosine_mean=mean_off_diagonal(cosine))
    return out
