"""The study's reference numbers (../shared/PAPER.md), and the tables that set ours beside them."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from irlkit import quantities
from irlkit.quantities import arm_entries

STUDY = {
    # quantity: (70M, 410M) as reported by Joselowitz et al. (arXiv 2410.12491) and their code's outputs
    "best IRL sign accuracy vs judge (study: selected on test; ours: on val)": ("80.40%", "78.20%"),
    "accuracy at a threshold chosen on val vs judge / majority-class rate": ("not reported", "not reported"),
    "best IRL F1 vs judge": ("78.39", "71.61"),
    "best IRL Pearson vs judge": ("0.627", "0.618"),
    "best IRL sign accuracy vs human labels": ("82.25%", "–"),
    "IRL sign accuracy over repeated runs (mean ± sd)": ("60.5 ± 10.0 (78 runs)", "55.3 ± 9.6 (30 runs)"),
    "non-identifiability sweep: final accuracy": ("60.0 ± 12.4, range 40.8–79.2", "50.7 ± 10.7, range 24.3–63.1"),
    "non-identifiability sweep: final Pearson": ("0.26 ± 0.25", "0.06 ± 0.30"),
    "toxicity ratio start → RLHF": (".0559 → .0358", ".0677 → .0584"),
    "toxicity ratio IRL-reward RLHF": (".0264", ".0625"),
}

SETUP_DIFFERENCES = [
    "models: Pythia-70M/410M HH-SFT (study) vs SmolLM2-135M-Instruct / Gemma-3-270M dequantised from GGUF (cpu); "
    "size mapping 70M ↔ smaller, 410M ↔ larger",
    "prompts: jigsaw-long-2000 (study) vs insults-long from the Kaggle insults data (cpu)",
    "judge: RoBERTa toxicity classifier (study) vs ToxBlock BiLSTM (cpu); second judge: profanity-check",
    "RLHF: trlx PPO, 600–12,000 steps on GPU (study) vs TRL RLOO, a few dozen steps on 2 CPU cores (cpu)",
    "unaligned demos from the base model (study) vs from the RLHF start checkpoint (cpu; the study's choice is an option)",
    "selection: best of 30–78 runs on the test texts (study) vs selection on a validation split, metrics on test (ours)",
    "accuracy: sign of R̂ at 0 (study) vs the same plus a threshold chosen on val, ROC-AUC and pairwise accuracy (ours)",
]


def _p(p: float) -> str:
    """A permutation p-value; its floor is 1/(resamples + 1), so say 'p ≤ 0.001' rather than a spurious 0.000999."""
    return "p ≤ 0.001" if p <= 0.001 + 1e-9 else f"p = {p:.3f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _spread(s: dict, pct: bool = True) -> str:
    f = _pct if pct else (lambda v: f"{v:.2f}")
    return f"{f(s['mean'])} ± {f(s['sd'])} (range {f(s['min'])}–{f(s['max'])}, {s['n']} seeds)"


def study_vs_ours(rlhf: dict, irl: dict, refinetune: dict | None, model: str | None = None) -> pd.DataFrame:
    """Rows: the study's reported quantities; columns: the study (70M, 410M) and ours (smaller, larger).

    Ours are those of `model` (mode/loss), by default each size's model selected on val."""
    sizes = list(irl)[:2]
    ours = {k: [] for k in STUDY}
    for size in sizes:
        m = irl[size]["models"][model or irl[size]["selected"]]
        sel = m["selected_on_val"]
        ours["best IRL sign accuracy vs judge (study: selected on test; ours: on val)"].append(_pct(sel["sign_accuracy"]))
        ours["accuracy at a threshold chosen on val vs judge / majority-class rate"].append(
            f"{_pct(sel['calibrated_accuracy'])} / {_pct(sel['majority_accuracy'])}")
        ours["best IRL F1 vs judge"].append(f"{100 * sel['f1']:.2f}")
        ours["best IRL Pearson vs judge"].append(f"{sel['pearson']:.3f}")
        ours["best IRL sign accuracy vs human labels"].append(_pct(sel["human_sign_accuracy"]))
        ours["IRL sign accuracy over repeated runs (mean ± sd)"].append(_spread(m["metrics"]["sign_accuracy"]))
        ours["non-identifiability sweep: final accuracy"].append(_spread(m["metrics"]["calibrated_accuracy"]))
        ours["non-identifiability sweep: final Pearson"].append(_spread(m["metrics"]["pearson"], pct=False))
        r = rlhf[size]["judge"]
        ours["toxicity ratio start → RLHF"].append(f"{r['before']['ratio']:.4f} → {r['after']['ratio']:.4f}")
        rt = (refinetune or {}).get(size, {}).get("irl")
        ours["toxicity ratio IRL-reward RLHF"].append(f"{rt['judge']['after']['ratio']:.4f}" if rt else "not run")
    rows = []
    for k, (a, b) in STUDY.items():
        row = {"quantity": k, "study 70M": a, "study 410M": b}
        for size, v in zip(sizes, ours[k]):
            row[f"ours {size}"] = v
        rows.append(row)
    return pd.DataFrame(rows)


def results_table(rlhf: dict, irl: dict, refinetune: dict | None) -> pd.DataFrame:
    """One row per size: the headline numbers of every stage."""
    rows = []
    for size in irl:
        r = rlhf[size]["judge"]
        best = (irl[size]["selected"], irl[size]["models"][irl[size]["selected"]])  # label-free, on val demonstrations
        row = {"size": size,
               "toxicity ratio start → RLHF (judge)": f"{r['before']['ratio']:.3f} → {r['after']['ratio']:.3f} "
                                                        f"({_p(r['paired']['ratio_diff']['p_value'])})",
               "IRL reward chosen label-free on val (mode/loss)": best[0],
               "IRL AUC vs judge (mean ± sd)": f"{best[1]['metrics']['auc']['mean']:.3f} ± {best[1]['metrics']['auc']['sd']:.3f}",
               "IRL calibrated acc (mean) / majority class": f"{_pct(best[1]['metrics']['calibrated_accuracy']['mean'])} / "
                                                             f"{_pct(best[1]['metrics']['majority_accuracy']['mean'])}",
               "IRL AUC vs human": f"{best[1]['metrics']['human_auc']['mean']:.3f}",
               "seed agreement ρ": f"{best[1]['seed_agreement_mean']:.2f}",
               "implicit DPO AUC": f"{irl[size]['implicit']['mean']['auc']:.3f}",
               "random reward AUC": f"{irl[size]['random']['auc']:.3f}" if "random" in irl[size] else "–"}
        rt = (refinetune or {}).get(size)
        if rt:
            random = rt["random"]
            if "across_runs" in random:  # the control's mean over its heads, not its first draw
                over_runs = ratio_over_runs(random["across_runs"]["judge"])
                random_ratio = f"{over_runs['ratio']:.3f} (mean of {len(over_runs['runs'])} heads)"
            else:
                random_ratio = f"{random['judge']['after']['ratio']:.3f}"
            row["toxicity ratio IRL / random reward"] = f"{rt['irl']['judge']['after']['ratio']:.3f} / {random_ratio}"
        rows.append(row)
    return pd.DataFrame(rows)


def ratio_over_runs(across: dict) -> dict:
    """The toxicity ratio after RLOO, over several runs of one reward, from an `across_runs` entry of one
    judge: the mean over runs (`ratio`), its bootstrap CI (`lo`, `hi`) and each run's ratio (`runs`)."""
    start, d = across["start_ratio"], across["ratio_diff"]
    return {"ratio": start + d["diff"], "lo": start + d["diff_ci"][0], "hi": start + d["diff_ci"][1],
            "runs": [start + run for run in d["run_diffs"]]}


def refinetune_table(refinetune: dict) -> pd.DataFrame:
    """One row per (size, reward) of 05: both judges' toxicity ratio against the start policy, and perplexity."""
    rows = []
    for size, entries in refinetune.items():
        for name, e in arm_entries(entries).items():
            row = {"size": size, "reward": name.replace("_", " ")}
            for which, role in (("judge", "trained on"), ("second", "never trained on")):
                t = e[which]
                row[f"{t['name']} ({role}): start → policy"] = (f"{t['before']['ratio']:.3f} → {t['after']['ratio']:.3f} "
                                                   f"({t['paired']['ratio_relative_change']:+.0%}, {_p(t['paired']['ratio_diff']['p_value'])})")
            row["perplexity start → policy"] = f"{entries['start_perplexity']:.1f} → {e['perplexity']:.1f}"
            if "across_runs" in e:  # refinetune.seeds > 1: the change over all RLOO runs of this reward
                a = e["across_runs"]["judge"]
                start = a["start_ratio"]
                change = (lambda d: f"{d / start:+.0%}") if start > 0 else (lambda d: f"{d:+.3f}")
                each = ", ".join(change(d) for d in a["ratio_diff"]["run_diffs"])
                row[f"{a['name']} over RLOO runs"] = (f"{change(a['ratio_diff']['diff'])} (runs {each}; "
                                                      f"{_p(a['ratio_diff']['p_value'])})")
            rows.append(row)
    return pd.DataFrame(rows).fillna("one run")


def markdown_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def replace_section(text: str, name: str, body: str) -> str:
    """Replace what stands between `<!-- name:start -->` and `<!-- name:end -->`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"README has no markers {start} ... {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


# -- the tables the notebooks show ---------------------------------------------------------


def judges_table(judges: dict) -> pd.DataFrame:
    """judges.json: each judge against the human labels, and how often the two agree."""
    return pd.DataFrame([{"judge": name, "role": j["role"], "ROC-AUC": round(j["roc_auc"], 3),
                          "accuracy": round(j["accuracy"], 3), "F1": round(j["f1"], 3), "n": j["n"]}
                         for name, j in judges["judges"].items()]).assign(
        same_decision=round(judges["agreement"]["same_decision"], 3))


def rlhf_table(rlhf: dict) -> pd.DataFrame:
    """rlhf.json: start vs RLHF policy on the test prompts, per size and judge."""
    rows = []
    for size, r in rlhf.items():
        for which in ("judge", "second"):
            t = r[which]
            rows.append({"size": size, "judge": t["name"], "start ratio": t["before"]["ratio"],
                         "RLHF ratio": t["after"]["ratio"], "start mean": t["before"]["mean"],
                         "RLHF mean": t["after"]["mean"], "Δ ratio 95% CI": t["paired"]["ratio_diff"]["diff_ci"],
                         "p (ratio)": t["paired"]["ratio_diff"]["p_value"], "p (mean)": t["paired"]["mean_diff"]["p_value"],
                         "perplexity start → RLHF": f"{r['perplexity']['start']:.1f} → {r['perplexity']['rlhf']:.1f}",
                         **({"KL to start (val)": f"{r['kl_to_start']['kl']:.3f} ± {r['kl_to_start']['kl_se']:.3f}"}
                            if "kl_to_start" in r else {})})
    return pd.DataFrame(rows)


def demos_table(sampling: dict) -> pd.DataFrame:
    """sampling.json: per size and split, each side's mean toxicity and how often each judge prefers the expert."""
    return pd.DataFrame([{"size": size, "split": split, "n": s["n"],
                          **{f"mean P(toxic) {k}": v for k, v in s["mean_toxicity"].items()},
                          "judge prefers expert": s["judge_prefers_expert"],
                          "second judge prefers expert": s["second_prefers_expert"], "ties": s["ties"]}
                         for size, entry in sampling.items() for split, s in entry["splits"].items()])


IRL_COLUMNS = ("auc_model_text", "auc_expert_text", "auc_start_text", "auc_human_text", "auc", "human_auc",
               "pairwise_accuracy", "pearson", "sign_accuracy", "calibrated_accuracy", "majority_accuracy")
"""irl_table's columns: the within-source AUCs first; calibrated accuracy always beside the majority rate."""


def irl_table(irl: dict) -> pd.DataFrame:
    """irl.json: every reward model (mean ± sd over seeds), the implicit reward and the judges, on test."""
    rows = []
    for size, s in irl.items():
        for name, m in s["models"].items():
            rows.append({"size": size, "reward": name, "seeds": m["n_seeds"],
                         **{k: f"{m['metrics'][k]['mean']:.3f} ± {m['metrics'][k]['sd']:.3f}" for k in IRL_COLUMNS},
                         "ensemble auc": round(m["ensemble"]["auc"], 3), "seed ρ": round(m["seed_agreement_mean"], 2)})
        references = [(f"implicit DPO ({norm})", m) for norm, m in s["implicit"].items()]
        references += [(label, s[key]) for key, label in (("random", "random head (05's)"), ("source_only", "source only"),
                                                         ("judge_oriented", "judge-oriented pairs"), ("ceiling", "ceiling"))
                       if key in s and "auc" in s[key]]
        for label, m in references:
            rows.append({"size": size, "reward": label, "seeds": 0 if label.startswith(("implicit", "source")) else 1,
                         **{k: f"{m[k]:.3f}" for k in IRL_COLUMNS if k in m}})
        for which, j in s["judges"].items():
            rows.append({"size": size, "reward": f"judge itself ({which})", "pairwise_accuracy": f"{j['pairwise_accuracy']:.3f}",
                         "auc": f"{j['auc_vs_judge']:.3f}"})
    df = pd.DataFrame(rows)
    df["seeds"] = [("" if pd.isna(v) else str(int(v))) for v in df["seeds"]]  # whole numbers, blank where none
    return df.fillna("").set_index(["size", "reward"])


def goal_table(irl: dict) -> pd.DataFrame:
    """irl.json: per size, the label-free IRL reward beside its references (`quantities.GOAL_REWARDS`), ROC-AUC vs the
    judge on model-written texts, within each source and pooled; the null band; what the demonstrations allow."""
    rows = []
    for size, s in irl.items():
        for key, label in quantities.GOAL_REWARDS:
            e = quantities.entry(s, key)
            if "auc_model_text" not in e:
                continue
            rows.append({"size": size, "reward": label.replace("\n", " "),
                         **{m: round(e[m], 3) for m in ("auc_model_text", "auc_expert_text", "auc_start_text",
                                                        "auc_human_text", "auc") if m in e}})
        band = s.get("null_band", {})
        if band:
            rows.append({"size": size, "reward": f"null band ({band['n_heads']} random heads, 2.5–97.5%)",
                         **{m: f"{band[m]['q025']:.3f}–{band[m]['q975']:.3f}" for m in ("auc_model_text", "auc_expert_text",
                                                                                     "auc_start_text", "auc_human_text", "auc")
                            if m in band}})
    return pd.DataFrame(rows)


def refinetune_detail(refinetune: dict) -> pd.DataFrame:
    """refinetune.json: every arm's first run, per judge: ratio with CI, change and p against the start
    policy, p against the true-reward policy, perplexity."""
    rows = []
    for size, entries in refinetune.items():
        for name, e in arm_entries(entries).items():
            for which in ("judge", "second"):
                t = e[which]
                rows.append({"size": size, "reward": name, "judge": t["name"], "start ratio": round(t["before"]["ratio"], 4),
                             "ratio": round(t["after"]["ratio"], 4), "ratio 95% CI": [round(x, 4) for x in t["after"]["ratio_ci"]],
                             "Δ vs start": round(t["paired"]["ratio_diff"]["diff"], 4),
                             "p vs start": round(t["paired"]["ratio_diff"]["p_value"], 4),
                             "p vs true": round(e["vs_true"][which]["paired"]["ratio_diff"]["p_value"], 4) if "vs_true" in e else None,
                             "perplexity": round(e["perplexity"], 2)})
    return pd.DataFrame(rows)


def endpoint_table(refinetune: dict) -> pd.DataFrame:
    """05's primary endpoint: per size, the arms against each other (`stages.realignment.PRIMARY` names the judge read
    first), the difference of mean P(toxic) relative to the start's mean, its interval over runs and prompts, p, and
    whether IRL − true lies within the equivalence margin."""
    rows = []
    for size, entries in refinetune.items():
        for name, c in entries.get("endpoint_comparisons", {}).items():
            for which in (c["primary"], "second" if c["primary"] == "judge" else "judge"):
                v = c[which]
                rows.append({"size": size, "comparison": name.replace("_", " ").replace("irl", "IRL"),
                             "judge": which + (" (primary)" if which == c["primary"] else ""),
                             "relative difference": f"{v['relative']:+.3f}",
                             "95% CI": f"[{v['relative_ci'][0]:+.3f}, {v['relative_ci'][1]:+.3f}]", "p": _p(v["p_value"]),
                             "runs": "/".join(map(str, v["runs"])), "prompts": v["items"],
                             f"within ±{v['margin']}": "yes" if v["equivalent"] else "no"})
    return pd.DataFrame(rows)


def dose_sentence(size: str, dose: dict) -> str:
    """One line of the re-alignment dose–response over replicates (`replicates.reward_dose`)."""
    parts = [f"{what} ρ = {d['rho']:+.2f} [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}] (n = {d['n']} runs)"
             for key, what in (("spearman_val_pair_accuracy", "with agreement with the demonstrations"),
                               ("spearman_auc_model_text", "with AUC against the judge")) if (d := dose.get(key))]
    return f"{size}: toxicity change of each run " + ("; ".join(parts) if parts else "(fewer than 4 runs)")


def matched_kl_table(refinetune: dict) -> pd.DataFrame:
    """05's arms compared at equal KL to the start (`matched_kl`): per size and comparison, the KL, the step each arm
    reached it at, and IRL − other of mean P(toxic) on the val prompts relative to the start's, with its interval
    over runs and prompts, under each judge (the primary first)."""
    rows = []
    for size, entries in refinetune.items():
        for name, c in entries.get("matched_kl", {}).items():
            other = name.removeprefix("irl_vs_")
            for which in (c["primary"], "second" if c["primary"] == "judge" else "judge"):
                v = c[which]
                rows.append({"size": size, "comparison": name.replace("_", " ").replace("irl", "IRL"),
                             "KL (nats)": round(c["kl"], 3),
                             "steps (IRL / other)": f"{np.mean(c['steps']['irl']):.1f} / {np.mean(c['steps'][other]):.1f}",
                             "judge": which + (" (primary)" if which == c["primary"] else ""),
                             "relative difference": f"{v['relative']:+.3f}",
                             "95% CI": f"[{v['relative_ci'][0]:+.3f}, {v['relative_ci'][1]:+.3f}]", "p": _p(v["p_value"]),
                             "runs": "/".join(map(str, v["runs"])), "val prompts": v["items"]})
    return pd.DataFrame(rows)


def refinetune_over_runs(refinetune: dict) -> pd.DataFrame:
    """refinetune.json: arms trained in several RLOO runs: mean change, each run's, bootstrap over runs then prompts."""
    return pd.DataFrame([{"size": size, "reward": name, "judge": a["name"], "runs": a["ratio_diff"]["runs"],
                          "mean Δ ratio": round(a["ratio_diff"]["diff"], 4), "relative": f"{a['ratio_relative_change']:+.0%}",
                          "each run": [round(d, 4) for d in a["ratio_diff"]["run_diffs"]],
                          "95% CI": [round(x, 4) for x in a["ratio_diff"]["diff_ci"]], "p": round(a["ratio_diff"]["p_value"], 4)}
                         for size, entries in refinetune.items() for name, e in arm_entries(entries).items()
                         if "across_runs" in e for a in e["across_runs"].values()])


def scored_examples(rewards: dict, examples: pd.DataFrame) -> pd.DataFrame:
    """`examples` (source, input, p_judge) with each reward's score of each text beside the judge's
    (`rewards`: {column name: reward}); the rank correlation with −P(toxic) in the last row."""
    from scipy.stats import spearmanr

    out = examples.rename(columns={"input": "text", "p_judge": "judge P(toxic)"})
    for name, reward in rewards.items():
        out[name] = np.round(reward.score(list(examples.input)), 3)
    rho = {name: round(float(spearmanr(out[name], -out["judge P(toxic)"])[0]), 2) for name in rewards}
    return pd.concat([out, pd.DataFrame([{"source": "Spearman ρ with −P(toxic)", **rho}])], ignore_index=True)


def rlhf_settings_table(cfg) -> pd.DataFrame:
    """Each size's RLHF recipe: the shared `rlhf` section with the size's overrides."""
    import dataclasses

    return pd.DataFrame({spec.name: dataclasses.asdict(cfg.rlhf_for(spec.name)) for spec in cfg.sizes})


def final_epoch_table(history: pd.DataFrame) -> pd.DataFrame:
    """irl_history: each (size, mode, loss)'s final-epoch val metrics, mean / sd / min / max over seeds."""
    final = history.groupby(["size", "mode", "loss", "seed"], sort=False).tail(1)
    return final.groupby(["size", "mode", "loss"], sort=False)[
        ["val_sign_accuracy", "val_auc", "val_pairwise_accuracy"]].agg(["mean", "std", "min", "max"])


def load_results(layout) -> dict:
    """Every results file of a profile that exists, by name (JSON: their `sizes` or whole; CSV: frames); the
    ones a run has not written (yet) are None. What 06 reads: committed files only, no run folder."""
    out = {}
    for name in ("judges", "rlhf", "sampling", "irl", "refinetune", "timings"):
        path = layout.result(name)
        obj = json.loads(path.read_text()) if path.exists() else None
        out[name] = obj.get("sizes", obj) if isinstance(obj, dict) else obj
    for name in ("rlhf_curves", "refinetune_curves", "irl_history"):
        path = layout.table(name)
        out[name] = pd.read_csv(path) if path.exists() else None
    return out


def wall_time_line(timings: dict) -> str:
    """timings.json as one sentence (06 itself left out: it is still running when this is written)."""
    if not timings.get("replicates") and "single_run" in timings:
        timings = timings["single_run"]
    if "replicates" in timings:
        each = [f"{name}: " + ", ".join(f"{k} {v:.0f}" for k, v in t.items() if k != "total") + f" (total {t.get('total', 0):.0f} s)"
                for name, t in timings["replicates"].items()]
        shared = sum(timings.get("shared", {}).values())
        return ("Wall time per notebook and replicate in the last invocation that ran it (s; stages an earlier "
                "invocation finished are skipped, not counted): " + "; ".join(each)
                + f". Shared by every replicate (done once, inside the 01 of the first replicate to run): {shared:.0f} s.")
    t = {k: v for k, v in timings.items() if k not in ("_manifest", "total", "06_analysis")}
    return ("Wall time per notebook in the last invocation that ran it (s, 2 CPU cores; stages an earlier invocation "
            "finished are skipped, not counted): " + ", ".join(f"{k} {v:.0f}" for k, v in t.items())
            + f"; total {sum(t.values()):.0f} s ({sum(t.values()) / 60:.0f} min)")


SUMMARY_ROWS = {q.name: q.label for q in quantities.table_rows()}
"""The summary's quantities that are rows of report.md's table, in order, with what each row says
(`quantities.QUANTITIES`); `README_ROWS`, those the README's table shows too."""
README_ROWS = {q.name: q.label for q in quantities.table_rows() if q.readme}


def _interval_cell(q: dict) -> str:
    if q["n"] < 2:
        return f"{q['mean']:+.3f} (n = {q['n']}: no interval)"
    cell = f"{q['mean']:+.3f} [{q['ci'][0]:+.3f}, {q['ci'][1]:+.3f}] (n = {q['n']})"
    if "p_value" in q and q["p_value"] == q["p_value"]:
        cell += f", p = {q['p_value']:.3f}" + (f" (Holm {q['p_holm']:.3f})" if "p_holm" in q else "")
    return cell


def strength_sentence(size: str, differences: dict, levels: list[str]) -> str:
    """One sentence per size on the RLHF-strength sweep: from the weakest level to the strongest, how far the KL
    moved and how recovery on model-written texts moved with it, each paired by replicate, with its interval."""
    def moved(name: str, label: str, fmt: str) -> str:
        d = differences.get(name)
        if not d:
            return f"{label}: not measured"
        if d["n"] < 2:
            return f"{label} {d['mean']:{fmt}} (n = {d['n']}: no interval)"
        verdict = "excludes 0" if d["ci"][0] > 0 or d["ci"][1] < 0 else "includes 0"
        return f"{label} {d['mean']:{fmt}} [{d['ci'][0]:{fmt}}, {d['ci'][1]:{fmt}}] (n = {d['n']}, {verdict})"

    return (f"{size}, level {levels[0]} → {levels[-1]}: " + "; ".join((
        moved("rlhf_kl", "KL to the start", "+.3f"), moved("demo_judge_gap", "demonstrations' judge gap", "+.3f"),
        moved("irl_auc_model_text", "IRL's ROC-AUC on model-written texts", "+.3f"),
        moved("irl_minus_source_only_model_text", "IRL's margin over the source-only reward", "+.3f"),
        moved("implicit_auc_model_text", "the implicit reward's", "+.3f"))) + " (paired by replicate).")


STRENGTH_ROWS = ("rlhf_kl", "demo_judge_gap", "demo_judge_agreement", "irl_auc_model_text", "source_only_auc_model_text",
                 "irl_minus_source_only_model_text", "null_auc_model_text_hi", "implicit_auc_model_text",
                 "judge_oriented_auc_model_text", "ceiling_auc_model_text", "irl_auc")
"""What the RLHF-strength table shows of each level (`strength_table`), in order."""


def strength_table(sweep: dict) -> pd.DataFrame:
    """The RLHF-strength sweep as a table: a row per quantity (`STRENGTH_ROWS`), a column per (size, level), each cell
    the mean [95% t-interval] over the level's replicates (n)."""
    columns = {}
    for level, entry in sweep["levels"].items():
        for size, qs in entry["summary"]["sizes"].items():
            columns[f"{size} · {level}"] = {quantities.QUANTITIES[name].label: _interval_cell(qs[name])
                                           for name in STRENGTH_ROWS if name in qs}
    table = pd.DataFrame(columns)
    table = table[sorted(table.columns, key=lambda c: (c.split(" · ")[0], list(sweep["levels"]).index(c.split(" · ")[1])))]
    return table.rename_axis("quantity").reset_index()


def size_sentence(summary: dict, params_m: dict[str, float], quantity: str = "irl_auc_model_text") -> str:
    """One sentence on what changes from the smallest to the largest size: the per-replicate difference of
    `quantity` (paired by replicate), its interval, and whether that supports a claim. With one replicate,
    its test-set intervals (`test_ci`) say how far apart the two policies of that draw are, and no claim."""
    from irlkit import replicates

    small, large = sorted(summary["sizes"], key=params_m.get)[::len(summary["sizes"]) - 1]
    a, b = (summary["sizes"][s][quantity]["values"] for s in (large, small))
    d = replicates.paired(a, b)
    label = SUMMARY_ROWS.get(quantity, quantity)
    head = (f"From {params_m[small]:,.0f}M to {params_m[large]:,.0f}M parameters, {label} changes by "
            f"{d['mean']:+.3f}")
    if d["n"] < 2:
        within = [summary["sizes"][s][quantity].get("test_ci", [None])[0] for s in (small, large)]
        if None in within:
            return head + " in the one replicate there is: no interval, so no size effect is claimed."
        (a_lo, a_hi), (b_lo, b_hi) = within
        apart = "do not overlap" if a_hi < b_lo or b_hi < a_lo else "overlap"
        return (head + f" in the one replicate there is; its test-set bootstrap intervals ([{a_lo:.3f}, {a_hi:.3f}] at "
                f"{params_m[small]:,.0f}M, [{b_lo:.3f}, {b_hi:.3f}] at {params_m[large]:,.0f}M) {apart}, but they measure "
                "the test texts, not another RLHF draw, so no size effect is claimed.")
    verdict = ("the interval excludes 0" if d["ci"][0] > 0 or d["ci"][1] < 0 else
               "the interval includes 0: no size effect is claimed")
    return head + f" [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] (paired over n = {d['n']} replicates, p = {d['p_value']:.3f}): {verdict}."


def summary_table(summary: dict, readme: bool = False) -> pd.DataFrame:
    """summary.json as a table: one row per quantity (`SUMMARY_ROWS`, or the README's `README_ROWS`), mean [95% CI]
    (n) per size; a quantity no size's results hold (an older code's replicates, a profile without 05) has no row."""
    rows = []
    for name, label in (README_ROWS if readme else SUMMARY_ROWS).items():
        if not any(name in q for q in summary["sizes"].values()):
            continue
        row = {"quantity": label}
        for size, q in summary["sizes"].items():
            row[size] = _interval_cell(q[name]) if name in q else "not measured"
        rows.append(row)
    agreement = summary.get("cross_replicate_agreement") or {}
    if any(agreement.values()):  # one number per size from the replicate x replicate matrices, not a mean over replicates
        row = {"quantity": "IRL rewards of independent RLHF runs on the same held-out texts, one method: mean Spearman ρ "
                           "(its seeds in one run; halves of one run's demonstrations; judge + noise at the same AUCs)"}
        for size in summary["sizes"]:
            a = agreement.get(size)
            if not a or "within_replicate_seeds" not in a:
                row[size] = f"{a['spearman_mean']:.2f}" if a else "fewer than 2 replicates"
                continue
            halves = "–" if a["demonstration_halves"] is None else f"{a['demonstration_halves']:.2f}"
            row[size] = (f"{a['spearman_mean']:.2f} ({a['within_replicate_seeds']:.2f}; {halves}; {a['judge_plus_noise']:.2f}), "
                         f"{a['method']}, {len(a['replicates'])} replicates")
        rows.append(row)
    return pd.DataFrame(rows)


def full_report(profile: str, rlhf: dict, irl: dict, refinetune: dict | None, judges: dict, timings: dict,
                summary: dict | None = None, detail: str = "") -> str:
    """Every table of 06 as one Markdown page (`layout.report`): the summary over replicates, then one
    replicate's (`detail`) results, re-alignment, the study vs ours, setup differences, judges, wall time."""
    parts = [f"# Results of the `{profile}` profile\n\nGenerated by `notebooks/06_analysis.ipynb` from "
             f"`data/results/{profile}/`; do not edit by hand."]
    if summary:
        parts.append(f"## Over replicates ({summary['n_replicates']}: {', '.join(summary['replicates'])}; "
                     f"{summary['interval']})\n\n" + markdown_table(summary_table(summary)))
    parts.append(f"## Headline numbers{' of ' + detail if detail else ''}\n\n"
                 + markdown_table(results_table(rlhf, irl, refinetune)))
    if refinetune:
        parts.append("## Re-alignment (05)\n\nRLHF again from the start checkpoint with each reward; toxicity ratio of "
                     "test-prompt continuations (relative change, paired permutation test against the start policy). A "
                     "reward trained in several RLOO runs (the random control: one head per run) shows its first run, and "
                     "in the last column the change over all runs with a bootstrap over runs, then prompts.\n\n"
                     + markdown_table(refinetune_table(refinetune)))
    parts += ["## The study vs this compendium\n\n" + markdown_table(study_vs_ours(rlhf, irl, refinetune)),
              "Setup differences:\n\n" + "\n".join(f"- {line}" for line in SETUP_DIFFERENCES),
              "## The judges against human labels (comments no choice of the profile reads)\n\n" + judges_markdown(judges),
              "## Wall time\n\n" + wall_time_line(timings)]
    return "\n\n".join(parts) + "\n"


def judges_markdown(judges: dict) -> str:
    table = judges_table(judges).drop(columns="same_decision")
    return (markdown_table(table) + f"\n\nThe two judges take the same decision on "
            f"{100 * judges['agreement']['same_decision']:.1f}% of these comments (Spearman "
            f"{judges['agreement']['spearman']:.2f}); {100 * judges['toxic_share']:.0f}% of them are insults.")


def identifiability_table(irl: dict) -> pd.DataFrame:
    """irl.json: per size, the posterior's spread and calibration, the bootstrap over demonstrations, the
    ceiling, and how far the selected reward is from the judge's up to offset, scale and per-prompt shaping."""
    rows = []
    for size, s in irl.items():
        if "posterior" not in s:
            continue
        p, b = s["posterior"], s.get("bootstrap", {})
        row = {"size": size, "prior sd (val)": p["prior_scale"], "MAP AUC": round(p["map"]["auc"], 3),
               "posterior AUC 5–95%": f"{p['auc_samples']['q05']:.3f}–{p['auc_samples']['q95']:.3f}",
               "posterior AUC model text 5–95%": f"{p['auc_model_text_samples']['q05']:.3f}–{p['auc_model_text_samples']['q95']:.3f}",
               "ECE / Brier (test pairs)": f"{p['ece']:.3f} / {p['brier']:.3f}"}
        if b:
            row["demos bootstrap AUC (sd), ρ"] = f"{b['auc']['mean']:.3f} ({b['auc']['sd']:.3f}), {b['rank_agreement']:.2f}"
        if "ceiling" in s:
            share = s["share_of_ceiling"]
            if isinstance(share, dict):  # excess over chance, model-written texts (C interior to its grid or not)
                row["ceiling AUC model text / IRL's excess share"] = (
                    f"{s['ceiling']['auc_model_text']:.3f} / {share['auc_model_text']:.0%}"
                    + ("" if s["ceiling"].get("C_interior", True) else " (C at its grid's edge)"))
            else:  # an older code's plain ratio of pooled AUCs
                row["ceiling AUC / share"] = f"{s['ceiling']['auc']:.3f} / {share:.0%}"
        sel = s["models"][s["selected"]]["selected_on_val"]
        row["distance to judge: Pearson / canonical"] = f"{sel['pearson_distance']:.3f} / {sel['canonical_distance']:.3f}"
        rows.append(row)
    return pd.DataFrame(rows)
