"""The study's reference numbers (../shared/PAPER.md), and the tables that set ours beside them."""
from __future__ import annotations

import pandas as pd

STUDY = {
    # quantity: (70M, 410M) as reported by Joselowitz et al. (arXiv 2410.12491) and their code's outputs
    "best IRL sign accuracy vs judge (selected on test)": ("80.40%", "78.20%"),
    "best IRL F1 vs judge": ("78.39", "71.61"),
    "best IRL Pearson vs judge": ("0.627", "0.618"),
    "best IRL accuracy vs human labels": ("82.25%", "–"),
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
        ours["best IRL sign accuracy vs judge (selected on test)"].append(
            f"{_pct(sel['sign_accuracy'])} sign / {_pct(sel['calibrated_accuracy'])} calibrated (selected on val)")
        ours["best IRL F1 vs judge"].append(f"{100 * sel['f1']:.2f}")
        ours["best IRL Pearson vs judge"].append(f"{sel['pearson']:.3f}")
        ours["best IRL accuracy vs human labels"].append(_pct(sel["human_calibrated_accuracy"]))
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
        best = (irl[size]["selected"], irl[size]["models"][irl[size]["selected"]])  # chosen on val, never on test
        row = {"size": size,
               "toxicity ratio start → RLHF (judge)": f"{r['before']['ratio']:.3f} → {r['after']['ratio']:.3f} "
                                                        f"({_p(r['paired']['ratio_diff']['p_value'])})",
               "IRL reward chosen on val (mode/loss)": best[0],
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
        for name, e in entries.items():
            if not isinstance(e, dict):
                continue
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
