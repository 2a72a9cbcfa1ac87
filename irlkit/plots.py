"""Figures: one function per figure, each returns a matplotlib Figure; `save` writes PNG + PDF,
`show` saves and displays the figure once, inline, in a notebook.

Every function reads only the results files (JSON, and CSV tables passed in as frames),
so 06_analysis and the tests can render from any results folder. No backend is forced: in
Jupyter and under papermill figures display inline; elsewhere matplotlib picks Agg by itself.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from irlkit import quantities
from irlkit.quantities import arm_entries
from irlkit.report import ratio_over_runs

PALETTE = sns.color_palette("colorblind")
STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook"),
         "axes.prop_cycle": plt.cycler(color=PALETTE)}
"""The look of every figure here (seaborn's whitegrid, notebook scale, colour-blind palette), applied per figure by
`styled`: importing irlkit changes no one else's matplotlib settings."""
JUDGE_LABEL = {"judge": "ground-truth judge", "second": "second judge (never trained on)"}


def styled(draw):
    """Draw the figure of `draw` in `STYLE` (matplotlib's settings restored after)."""
    import functools

    @functools.wraps(draw)
    def in_style(*args, **kwargs):
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)

    return in_style


def save(fig, name: str, folder: Path) -> Path:
    """Write `name`.png and `name`.pdf into `folder`; returns the PNG path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / f"{name}.png", dpi=130, bbox_inches="tight")
    fig.savefig(folder / f"{name}.pdf", bbox_inches="tight", metadata={"CreationDate": None})  # same figure, same bytes
    return folder / f"{name}.png"


def show(fig, name: str, folder: Path) -> None:
    """`save`, then display the figure once in the notebook running this (nothing elsewhere) and close it."""
    save(fig, name, folder)
    plt.close(fig)  # so the inline backend does not show it a second time at the end of the cell
    from IPython import get_ipython
    from IPython.display import display

    if get_ipython() is not None:
        display(fig)


@styled
def training_curves(curves: pd.DataFrame, title: str):
    """Reward and KL against RLOO step, one line per policy (`curves`: the rlhf_curves / refinetune_curves
    table, one row per (policy, step))."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for label, df in curves.groupby("policy", sort=False):
        axes[0].plot(df["step"], df["reward"], marker=".", label=label)
        if "kl" in df:
            axes[1].plot(df["step"], df["kl"], marker=".", label=label)
    axes[0].set(xlabel="RLOO step", ylabel="mean reward of the batch", title="reward")
    axes[1].set(xlabel="RLOO step", ylabel="KL to the start policy (nats/token)", title="KL")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def toxicity_by_stage(rlhf: dict, refinetune: dict | None):
    """Toxicity ratio per policy with 95% CIs, per size (columns) and judge (rows). A reward trained in
    several RLOO runs (05's random heads) shows the mean over runs, a CI over runs and prompts, and a dot per run."""
    rows = []
    for size, r in rlhf.items():
        for which in ("judge", "second"):
            rows.append({"size": size, "judge": which, "policy": "start", **_ratio(r[which]["before"])})
            entries = (refinetune or {}).get(size) or {"true": r}
            for name, entry in arm_entries(entries).items():
                label = name.replace("_", " ").replace("irl", "IRL")
                row = {"size": size, "judge": which, "policy": f"RLHF ({label} reward)", **_ratio(entry[which]["after"])}
                if "across_runs" in entry:
                    row.update(ratio_over_runs(entry["across_runs"][which]))
                    row["policy"] += f"\n{len(row['runs'])} runs"
                rows.append(row)
    df = pd.DataFrame(rows)
    sizes = list(rlhf)
    fig, axes = plt.subplots(2, len(sizes), figsize=(5.5 * len(sizes), 7), squeeze=False, sharey="row")
    for j, size in enumerate(sizes):
        for i, which in enumerate(("judge", "second")):
            d = df[(df["size"] == size) & (df.judge == which)]
            ax = axes[i, j]
            ax.bar(range(len(d)), d.ratio, yerr=[d.ratio - d.lo, d.hi - d.ratio], capsize=4,
                   color=[PALETTE[k % len(PALETTE)] for k in range(len(d))])
            for x, runs in enumerate(d.get("runs", pd.Series([None] * len(d)))):
                if isinstance(runs, list):
                    ax.scatter([x] * len(runs), runs, color="black", s=14, zorder=3)
            ax.set_xticks(range(len(d)), d.policy, rotation=30, ha="right", fontsize=8)
            ax.set(title=f"{size}: {JUDGE_LABEL[which]}", ylabel="toxicity ratio (P ≥ 0.5)")
    fig.suptitle("Toxicity of test-prompt continuations by stage (95% bootstrap CIs; dots: single RLOO runs)")
    fig.tight_layout()
    return fig


@styled
def realignment_endpoint(refinetune: dict):
    """05's primary endpoint, per size: each arm's change of mean P(toxic) from the start (sampled continuations of the
    evaluation prompts), relative to the start's mean, under both judges; the interval over the arm's runs and the
    prompts, a dot per run, and the ±0.1 band around the true arm that 'as well as the true reward' must fall in."""
    sizes = list(refinetune)
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 3.8), squeeze=False, sharex=True)
    colours = {"judge": PALETTE[0], "second": PALETTE[1]}
    for ax, size in zip(axes[0], sizes):
        arms = {n: e for n, e in arm_entries(refinetune[size]).items() if "endpoint" in e}
        names = list(arms)[::-1]
        for offset, which in ((0.15, "judge"), (-0.15, "second")):
            for y, name in enumerate(names):
                v = arms[name]["endpoint"][which]["vs_start"]
                lo, hi = v["relative_ci"]
                ax.errorbar(v["relative"], y + offset, xerr=[[v["relative"] - lo], [hi - v["relative"]]], fmt="o",
                            color=colours[which], capsize=3, label=JUDGE_LABEL[which] if y == 0 else None)
                start = arms[name]["endpoint"][which]["start_mean"]
                runs = np.asarray(arms[name]["endpoint"][which]["run_means"]) / start - 1 if start else []
                ax.plot(runs, np.full(len(runs), y + offset), "|", color=colours[which], ms=9, alpha=0.6)
        if "true" in arms:
            t = arms["true"]["endpoint"]["second"]["vs_start"]["relative"]
            ax.axvspan(t - 0.1, t + 0.1, color="grey", alpha=0.12, lw=0)
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(range(len(names)), [n.replace("_", " ").replace("irl", "IRL") for n in names])
        ax.set(title=size, xlabel="change of mean P(toxic) from the start, relative")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


ARM_COLOURS = {"true": PALETTE[2], "irl": PALETTE[0], "flipped": PALETTE[4], "random": PALETTE[7]}
"""One colour per arm of 05 in every figure (transfer arms: the palette's next)."""


def _arm_colour(name: str):
    return ARM_COLOURS.get(name, PALETTE[3])


def _arm_label(name: str) -> str:
    return name.replace("_", " ").replace("irl", "IRL")


def _legend_label(name: str) -> str:
    """An arm's label in a legend shared by every size: transfer arms by what they are, not by their source."""
    return "the other size's IRL reward" if name.startswith("transfer") else _arm_label(name)


@styled
def realignment_paths(refinetune: dict):
    """05's toxicity–KL paths: each run of each arm measured on the val prompts as it trained (`eval.path_every`),
    mean P(toxic) under each judge (rows) against its KL to the start, a panel per size; the dotted line is the
    KL at which IRL and the true arm are compared (`matched_kl`)."""
    sizes = [s for s in refinetune if any("path" in e for e in arm_entries(refinetune[s]).values())]
    fig, axes = plt.subplots(2, max(len(sizes), 1), figsize=(5.2 * max(len(sizes), 1), 7), squeeze=False, sharex="col")
    for col, size in enumerate(sizes):
        arms = {n: e for n, e in arm_entries(refinetune[size]).items() if "path" in e}
        for row, which in enumerate(("judge", "second")):
            ax = axes[row, col]
            for name, e in arms.items():
                for i, run in enumerate(e["path"]):
                    ax.plot([p["kl"] for p in run], [p["toxicity"][which] for p in run], "-o", ms=3, lw=1.2,
                            color=_arm_colour(name), alpha=0.85 if name != "random" else 0.45,
                            label=_legend_label(name) if i == 0 else None)
            matched = refinetune[size].get("matched_kl", {}).get("irl_vs_true")
            if matched:
                ax.axvline(matched["kl"], color="grey", ls=":", lw=1,
                           label="KL at which IRL and true are compared" if row == col == 0 else None)
            ax.set(title=f"{size}" if row == 0 else "", ylabel=f"mean P(toxic), val\n{JUDGE_LABEL[which]}",
                   xlabel="KL to the start (nats, val)" if row == 1 else "")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels) or 1, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


@styled
def reward_dose(points: dict[str, list[dict]], title: str = ""):
    """Each re-alignment run's change of mean P(toxic) from the start (the endpoint, ground-truth judge) against its
    reward's label-free agreement with the demonstrations (left) and the reward's AUC against the judge on the
    report split's model-written texts (right), a row per size, a dot per run coloured by arm (`points`:
    `quantities.dose_points`, of one replicate or of several): a reward that orders the demonstrations or the
    judge's texts better should lower toxicity more."""
    sizes = [s for s in points if points[s]]
    fig, axes = plt.subplots(max(len(sizes), 1), 2, figsize=(9.5, 3.4 * max(len(sizes), 1)), squeeze=False, sharey="row")
    for row, size in enumerate(sizes):
        frame = pd.DataFrame(points[size])
        for ax, (x, label) in zip(axes[row], (("val_pair_accuracy", "agreement with the demonstrations (val pairs)"),
                                              ("auc_model_text", "AUC against the judge, model-written texts"))):
            for arm, group in frame.groupby("arm", sort=False):
                ax.scatter(group[x], group.relative_change, color=_arm_colour(arm), s=36, label=_arm_label(arm),
                           edgecolor="white", lw=0.5, zorder=3)
            ax.axhline(0, color="grey", lw=0.8, ls="--")
            ax.axvline(0.5, color="grey", lw=0.8, ls=":")
            ax.set(xlabel=label if row == len(sizes) - 1 else "", title=size if x == "val_pair_accuracy" else "")
        axes[row, 0].set_ylabel("change of mean P(toxic)\nfrom the start, relative")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels) or 1, frameon=False, bbox_to_anchor=(0.5, -0.02))
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _ratio(t: dict) -> dict:
    return {"ratio": t["ratio"], "lo": t["ratio_ci"][0], "hi": t["ratio_ci"][1]}


@styled
def metric_bars(irl: dict, metric_names=("calibrated_accuracy", "auc", "f1", "pairwise_accuracy", "human_auc")):
    """Mean ± sd over seeds of each metric, per (mode/loss), per size; the implicit DPO reward beside them."""
    rows = []
    for size, s in irl.items():
        for name, m in s["models"].items():
            for metric in (*metric_names, "majority_accuracy"):
                rows.append({"size": size, "reward": name, "metric": metric, "mean": m["metrics"][metric]["mean"],
                             "sd": m["metrics"][metric]["sd"]})
        for metric in metric_names:
            rows.append({"size": size, "reward": "implicit DPO (mean)", "metric": metric,
                         "mean": s["implicit"]["mean"][metric], "sd": 0.0})
    df = pd.DataFrame(rows)
    sizes = list(irl)
    fig, axes = plt.subplots(1, len(sizes), figsize=(6.5 * len(sizes), 4.2), squeeze=False, sharey=True)
    rewards = list(dict.fromkeys(df[df.metric != "majority_accuracy"].reward))
    width = 0.8 / len(rewards)
    for j, size in enumerate(sizes):
        ax = axes[0, j]
        for k, reward in enumerate(rewards):
            d = df[(df["size"] == size) & (df.reward == reward)].set_index("metric").loc[list(metric_names)]
            ax.bar(np.arange(len(metric_names)) + k * width, d["mean"], width, yerr=d["sd"], capsize=2, label=reward)
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        if "calibrated_accuracy" in metric_names:  # an accuracy is read against the majority class's rate
            i = list(metric_names).index("calibrated_accuracy")
            majority = df[(df["size"] == size) & (df.metric == "majority_accuracy")]["mean"]
            if len(majority):
                ax.hlines(majority.iloc[0], i - width / 2, i + 0.8 - width / 2, color="black", lw=1.5,
                          label="majority-class rate" if j == len(sizes) - 1 else None)
        ax.set_xticks(np.arange(len(metric_names)) + 0.4 - width / 2, [m.replace("_", "\n") for m in metric_names], fontsize=8)
        ax.set(title=size, ylim=(0, 1), ylabel="test metric (mean ± sd over seeds)")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Recovered rewards on held-out texts: losses, modes, and the training-free implicit reward")
    fig.tight_layout()
    return fig


@styled
def goal_recovery(irl: dict, metric: str = "auc_model_text"):
    """Per size: is the goal recovered beyond who wrote the text? ROC-AUC vs the judge on model-written test texts
    (`metric`) of the label-free IRL reward and its references (`quantities.GOAL_REWARDS`), with their intervals over test
    prompts where 04 computed one, and the null band of random heads on the same features in grey."""
    sizes = list(irl)
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 3.8), squeeze=False, sharey=True)
    for ax, size in zip(axes[0], sizes):
        s = irl[size]
        band = s.get("null_band", {}).get(metric)
        if band:
            ax.axhspan(band["q025"], band["q975"], color="0.88", zorder=0, label=f"{s['null_band']['n_heads']} random heads, 95%")
        shown = [(label, quantities.entry(s, key)) for key, label in quantities.GOAL_REWARDS
                 if metric in quantities.entry(s, key)]
        for x, (label, e) in enumerate(shown):
            ci = e.get(f"{metric}_ci")
            err = None if ci is None else [[e[metric] - ci[0]], [ci[1] - e[metric]]]
            ax.bar(x, e[metric], 0.6, yerr=err, capsize=3, color=PALETTE[0] if x == 0 else "0.55")
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xticks(range(len(shown)), [label for label, _ in shown], fontsize=8)
        ax.set(title=size, ylim=(0, 1), ylabel="ROC-AUC vs judge, model-written" if metric == "auc_model_text" else metric)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Is the goal recovered beyond who wrote the text? (bars: 95% over test prompts)")
    fig.tight_layout()
    return fig


@styled
def confusions(irl: dict, model: str | None = None):
    """Confusion matrices of the val-selected reward model (`model` = mode/loss; default: each size's
    `selected`), against the judge and against human labels."""
    sizes = list(irl)
    fig, axes = plt.subplots(len(sizes), 2, figsize=(8, 3.2 * len(sizes)), squeeze=False)
    for i, size in enumerate(sizes):
        name = model or irl[size]["selected"]
        sel = irl[size]["models"][name]["selected_on_val"]
        for j, (key, title) in enumerate((("confusion_judge", "vs judge"), ("confusion_human", "vs human labels"))):
            sns.heatmap(np.array(sel[key]), annot=True, fmt="d", cbar=False, ax=axes[i, j], cmap="Blues",
                        xticklabels=["pred clean", "pred toxic"], yticklabels=["clean", "toxic"])
            axes[i, j].set(title=f"{size} {name} seed {sel['seed']}: {title}")
    fig.tight_layout()
    return fig


@styled
def seed_epoch_heatmap(history: pd.DataFrame | dict, metric: str = "val_sign_accuracy",
                       models=(("probe", "max_margin"), ("probe", "logistic"))):
    """The study's non-identifiability figure: validation metric per seed (rows) and epoch (columns), one
    panel per (size, mode, loss) of `models`, one row of panels per replicate (`history`: the irl_history table,
    or {replicate: its table})."""
    tables = history if isinstance(history, dict) else {0: history}
    panels = {(k, f"{size} {mode}/{loss}"): h for k, table in tables.items()
              for (size, mode, loss), h in table.groupby(["size", "mode", "loss"], sort=False)
              if (mode, loss) in models and metric in h and h[metric].notna().any()}
    if not panels:
        raise ValueError(f"no {metric} in the history of {list(models)}")
    labels = list(dict.fromkeys(label for _, label in panels))
    # one colour range over every panel, fitted to the values: a spread between seeds shows as colour
    values = pd.concat([h[metric] for h in panels.values()])
    vmin, vmax = float(values.min()), float(values.max())
    fig, axes = plt.subplots(len(tables), len(labels), figsize=(5.2 * len(labels) + 1, 0.6 + 3.6 * len(tables)),
                             squeeze=False, layout="constrained")
    for i, k in enumerate(tables):
        for j, label in enumerate(labels):
            ax = axes[i, j]
            if (k, label) not in panels:
                ax.axis("off")
                continue
            h = panels[k, label]
            grid = h.assign(seed=h.seed - h.seed.min()).pivot_table(index="seed", columns="epoch", values=metric)
            sns.heatmap(grid, ax=ax, cmap="viridis", vmin=vmin, vmax=max(vmax, vmin + 1e-3), annot=grid.size <= 60,
                        fmt=".2f", cbar=False, xticklabels=5 if grid.shape[1] > 10 else True,
                        yticklabels=5 if grid.shape[0] > 10 else True)  # the same ticks in every panel
            ax.tick_params(axis="both", labelrotation=0)
            ax.set(title=f"r{k} · {label}", xlabel="epoch" if i == len(tables) - 1 else "",
                   ylabel="seed (from the replicate's first)" if j == 0 else "")
    _one_colour_bar(fig, axes, metric.replace("_", " "), shrink=0.6)
    fig.suptitle(f"Non-identifiability: {metric.replace('_', ' ')} by seed and epoch (replicates {_replicates_named(tables)})")
    return fig


@styled
def seed_agreement(irls: dict, model: str | None = None):
    """Spearman correlation between seeds' rewards on the same test texts (default model: each size's `selected`),
    a panel per size, a row per replicate (`irls`: {replicate: irl.json's `sizes`}, or one replicate's `sizes`)."""
    irls = _by_replicate(irls)
    sizes = list(dict.fromkeys(s for irl in irls.values() for s in irl))
    fig, axes = plt.subplots(len(irls), len(sizes), figsize=(4.2 * len(sizes) + 1, 4.0 * len(irls)), squeeze=False,
                             layout="constrained")
    for i, (k, irl) in enumerate(irls.items()):
        for ax, size in zip(axes[i], sizes):
            if size not in irl:
                ax.axis("off")
                continue
            name = model or irl[size]["selected"]
            m = irl[size]["models"][name]
            sns.heatmap(np.array(m["seed_agreement"]), ax=ax, vmin=-1, vmax=1, cmap="vlag", square=True, cbar=False,
                        xticklabels=5, yticklabels=5)
            ax.set_title(f"r{k} · {size}\n{name}: mean off-diagonal ρ = {m['seed_agreement_mean']:.2f}", fontsize=10)
            ax.set(xlabel="seed", ylabel="seed")
    _one_colour_bar(fig, axes, "Spearman ρ between seeds", shrink=0.5)
    fig.suptitle(f"Seeds of one replicate, on the same test texts (replicates {_replicates_named(irls)})")
    return fig


@styled
def size_effect(irl: dict, metrics_shown=("sign_accuracy", "calibrated_accuracy", "auc", "pearson"),
                title: str = "Size effect: spread over seeds of each metric, smaller vs larger model"):
    """Each metric's distribution over seeds, by size, one panel per metric (all models pooled by mode/loss).
    `title` says what the sizes are: two models of different families are no size axis."""
    rows = []
    for size, s in irl.items():
        for name, m in s["models"].items():
            for seed_metrics in m["per_seed"]:
                for metric in metrics_shown:
                    rows.append({"size": size, "reward": name, "metric": metric, "value": seed_metrics[metric]})
    df = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, len(metrics_shown), figsize=(4.2 * len(metrics_shown), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics_shown):
        d = df[df.metric == metric]
        sns.boxplot(data=d, x="reward", y="value", hue="size", ax=ax, fliersize=2)
        ax.set(title=metric.replace("_", " "), xlabel="", ylabel="test value per seed")
        ax.tick_params(axis="x", rotation=40, labelsize=7)
        if ax is not axes[0, -1]:
            ax.get_legend().remove()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def demo_scores(sampling_frames: dict[str, pd.DataFrame]):
    """The judge's P(toxic) of each side of the demonstrations (train split), per size: the contrast IRL learns from."""
    fig, axes = plt.subplots(1, len(sampling_frames), figsize=(5.5 * len(sampling_frames), 3.6), squeeze=False,
                             sharey=True)
    bins = np.linspace(0, 1, 21)
    for ax, (size, demos) in zip(axes[0], sampling_frames.items()):
        d = demos[demos.split == "train"]
        for col, label in (("start_text_judge", "start policy"), ("expert_text_judge", "RLHF policy (expert)"),
                           ("original_output_judge", "human continuation")):
            ax.hist(d[col], bins=bins, histtype="step", lw=1.8, label=label)
        ax.axvline(0.5, color="grey", lw=0.8, ls="--")
        ax.set(title=size, xlabel="judge P(toxic)", ylabel="continuations (train prompts)", yscale="log")
    axes[0, -1].legend(fontsize=8)
    fig.suptitle("Demonstrations: how toxic each side is, by the judge")
    fig.tight_layout()
    return fig


TEST_BARS = "grey bars: each replicate's 95% bootstrap over its test prompts"
"""What the grey bars of the over-replicate and size figures are (summary.json's `test_ci`)."""


def _test_bars(ax, xs, test_cis, view=(-np.inf, np.inf)) -> bool:
    """Each replicate's test-set interval as a grey bar at its x (cut to `view`); whether any was drawn."""
    drawn = False
    for x, test_ci in zip(xs, test_cis):
        if test_ci is not None:
            ax.vlines(x, max(test_ci[0], view[0]), min(test_ci[1], view[1]), color="0.55", lw=3, alpha=0.5, zorder=1)
            drawn = True
    return drawn


@styled
def over_replicates(summary: dict, shown: dict[str, str], title: str, ylabel: str, reference: float | None = None,
                    bounds: tuple = (None, None), band: tuple = ()):
    """Each quantity of summary.json (`shown`: {name: label}) per size: a dot per replicate, the mean
    and its interval over replicates (the summary's t-interval) as a bar, and behind each dot, in grey, that
    replicate's test-set bootstrap interval where the results have one. `band` = (low, high) quantities: a grey
    box behind every column from the replicates' mean low to mean high (the null band of random heads). The axes
    fit the replicates' values (within `bounds`, the range the quantities can take); an interval reaching past
    them ends in a triangle (its full extent is in summary.json)."""
    sizes = list(summary["sizes"])
    quantities = {n: label for n, label in shown.items() if any(n in summary["sizes"][s] for s in sizes)}
    if not quantities:
        raise ValueError("none of these quantities is in summary.json (06 shows only what the profile measured)")
    bands = {j: (summary["sizes"][size][band[0]]["mean"], summary["sizes"][size][band[1]]["mean"])
             for j, size in enumerate(sizes) if band and all(b in summary["sizes"][size] for b in band)}
    entries = [(j, i, summary["sizes"][size][name]) for j, size in enumerate(sizes)
               for i, name in enumerate(quantities) if name in summary["sizes"][size]]
    seen = [v for *_, q in entries for v in (*q["values"], q["mean"]) if v == v] + [v for b in bands.values() for v in b]
    seen = seen or [0.0, 1.0]
    ends = [e for *_, q in entries for e in (*q["ci"], *(e for t in q.get("test_ci", []) if t for e in t)) if e == e]
    margin = max(0.3 * (max(seen) - min(seen)), 0.05)
    reach = (min(seen) - 3 * margin, max(seen) + 3 * margin)  # intervals are shown whole up to here
    view = [max(reach[0], min([min(seen) - margin, *ends])), min(reach[1], max([max(seen) + margin, *ends]))]
    view = [view[0] if bounds[0] is None else max(view[0], bounds[0]), view[1] if bounds[1] is None else min(view[1], bounds[1])]
    fig, ax = plt.subplots(figsize=(max(6.5, 0.75 * len(quantities) * len(sizes) + 1.5), 4.6))
    width = 0.8 / max(len(sizes), 1)
    cut, labelled, within = False, set(), False
    for j, i, q in entries:
        x = i + (j - (len(sizes) - 1) / 2) * width
        if j in bands:
            ax.fill_between([x - width / 2, x + width / 2], *bands[j], color="0.85", lw=0, zorder=0,
                            label=None if "band" in labelled else "null band: 95% of random heads")
            labelled.add("band")
        lo, hi = q["ci"]
        if lo == lo:  # an interval (n >= 2)
            shown = (max(lo, view[0]), min(hi, view[1]))
            ax.vlines(x, *shown, color=PALETTE[j], lw=1.5)
            for end, edge, marker in ((lo, view[0], "v"), (hi, view[1], "^")):
                clipped = (end < edge) if marker == "v" else (end > edge)
                cut |= clipped
                ax.scatter([x], [edge if clipped else end], marker=marker if clipped else "_", s=60 if clipped else 120,
                           color=PALETTE[j], zorder=3)
        ax.scatter([x], [q["mean"]], marker="s", s=50, color=PALETTE[j], zorder=4,
                   label=None if sizes[j] in labelled else sizes[j])
        labelled.add(sizes[j])
        jitter = np.linspace(-0.04, 0.04, len(q["values"])) if len(q["values"]) > 1 else np.zeros(1)
        ax.scatter(x + jitter, q["values"], color="black", s=14, zorder=5)
        within |= _test_bars(ax, x + jitter, q.get("test_ci", []), view)
    if reference is not None:
        ax.axhline(reference, color="grey", lw=0.8, ls="--")
    ax.set_ylim(*view)
    ax.set_xticks(range(len(quantities)), list(quantities.values()), fontsize=9)
    ax.set(ylabel=ylabel, title=title)
    from matplotlib.lines import Line2D  # the key to the marks, in the legend rather than the title

    handles, labels = ax.get_legend_handles_labels()
    key = [(Line2D([], [], color="0.3", marker="s", lw=1.5), f"mean, {summary['interval']}"),
           (Line2D([], [], color="black", marker="o", ls="", markersize=4), f"a replicate (n = {summary['n_replicates']})")]
    if within:
        key.append((Line2D([], [], color="0.55", lw=3, alpha=0.5), "its 95% bootstrap over test prompts"))
    if cut:
        key.append((Line2D([], [], color="0.3", marker="^", ls=""), "the interval goes on past the axis"))
    ax.legend(handles + [h for h, _ in key], labels + [label for _, label in key], fontsize=9, ncol=3,
              loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    fig.tight_layout()
    return fig


SIZE_AXIS = (
    ("recovery of the goal: ROC-AUC vs judge, model-written test texts", (0.35, 1.0),
     {"irl_auc_model_text": "IRL reward\n(label-free)", "implicit_auc_model_text": "implicit reward",
      "judge_oriented_auc_model_text": "judge-oriented\nbound", "ceiling_auc_model_text": "supervised\nceiling"}),
    ("against human labels and pooled", (0.35, 1.0),
     {"irl_human_auc": "IRL reward:\nAUC vs human labels", "irl_auc": "IRL reward: AUC vs judge,\nall texts pooled"}),
    ("how far RLHF moved each size", {"rlhf_relative_change": (-1.0, 0.1), "rlhf_kl": (0.0, None)},
     {"rlhf_relative_change": "RLHF: relative change\nof toxicity", "rlhf_kl": "RLHF: KL to the start\n(nats, val)"}),
)
"""The size figure's rows: (family, y-range shared by the row or {quantity: its y-range}, {quantity: panel title}). Recovery panels draw the
source-only reward (dashed) and the random heads' null band (grey) of their texts where summary.json has them."""
SIZE_REFERENCES = {"irl_auc_model_text": "model_text", "implicit_auc_model_text": "model_text",
                   "judge_oriented_auc_model_text": "model_text", "ceiling_auc_model_text": "model_text", "irl_auc": ""}
"""Which texts' references a recovery panel draws (`source_only_auc[_<texts>]`, `null_auc[_<texts>]_lo/_hi`)."""


def size_label(name: str, params_m: float) -> str:
    """How a size is named on an axis: the nominal size in its name (`qwen2.5-coder-0.5b` → 0.5B), else its count."""
    import re

    m = re.search(r"(\d+(?:\.\d+)?)([mb])$", name.lower())
    return f"{m.group(1)}{m.group(2).upper()}" if m else f"{params_m:,.0f}M"


def _other_tick(label: str) -> str:
    """A model of another family on the size figure's x-axis, narrow enough to sit beside its neighbours:
    `smollm2-135m (cpu profile)` → `smollm2\n135m\n(cpu profile)`."""
    name, _, rest = label.partition(" ")
    return "\n".join([*name.split("-"), rest] if rest else name.split("-"))


@styled
def size_axis(summary: dict, params_m: dict[str, float], families=SIZE_AXIS, title: str = "",
              others: dict[str, dict] | None = None):
    """The size axis: a row per metric family (`SIZE_AXIS`), a panel per quantity, the sizes side by side on a shared
    y-range, named by nominal size (`size_label`); per size a dot per replicate, the mean with its interval over
    replicates, the source-only reward (dashed) and the null band of random heads (grey) where summary.json has them.
    `others` ({label: summary.json's `sizes` entry}) draws models of other families to the right, hollow and
    labelled so: beside the axis, not on it."""
    sizes = sorted(summary["sizes"], key=params_m.get)
    others = others or {}
    rows = [(family, ylim, {k: v for k, v in shown.items() if any(k in q for q in summary["sizes"].values())})
            for family, ylim, shown in families]
    rows = [r for r in rows if r[2]]
    ncols = max(len(r[2]) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(3.1 * ncols + 0.8 * len(others), 3.3 * len(rows)),
                             squeeze=False)
    slots = [(size, summary["sizes"][size], size_label(size, params_m[size]), False) for size in sizes] + \
            [(label, entry, _other_tick(label), True) for label, entry in others.items()]
    for row, (family, ylim, shown) in enumerate(rows):
        for col in range(ncols):
            ax = axes[row, col]
            if col >= len(shown):
                ax.set_visible(False)
                continue
            name, label = list(shown.items())[col]
            for x, (_, entry, _, other) in enumerate(slots):
                texts = SIZE_REFERENCES.get(name)
                if texts is not None:
                    suffix = f"_{texts}" if texts else ""
                    lo, hi = entry.get(f"null_auc{suffix}_lo"), entry.get(f"null_auc{suffix}_hi")
                    if lo and hi:
                        ax.fill_between([x - 0.32, x + 0.32], lo["mean"], hi["mean"], color="0.85", lw=0, zorder=0,
                                        label="random heads, 95% band" if x == 0 else None)
                    source = entry.get(f"source_only_auc{suffix}")
                    if source:
                        ax.hlines(source["mean"], x - 0.32, x + 0.32, color="0.3", ls="--", lw=1.2, zorder=1,
                                  label="source only" if x == 0 else None)
                q = entry.get(name)
                if q is None:
                    continue
                colour = PALETTE[0] if not other else PALETTE[3]
                jitter = np.linspace(-0.08, 0.08, len(q["values"])) if len(q["values"]) > 1 else [0.0]
                ax.scatter(x + 0.14 + np.asarray(jitter), q["values"], s=16, color="black" if not other else "none",
                           edgecolor="black", zorder=3, label="replicates" if x == 0 else None)
                lo, hi = q["ci"]
                ax.errorbar([x], [q["mean"]], yerr=[[q["mean"] - lo], [hi - q["mean"]]] if lo == lo else None,
                            fmt="s", ms=7, capsize=5, color=colour, mfc=colour if not other else "white", zorder=4,
                            label=(summary["interval"] if summary["n_replicates"] > 1 else "mean") if x == 0 else None)
            if others:
                ax.axvline(len(sizes) - 0.5, color="0.6", lw=0.8)
            ax.set_xticks(range(len(slots)), [s[2] for s in slots], fontsize=8 if others else None)
            ax.set_xlim(-0.6, len(slots) - 0.4)
            if isinstance(ylim, tuple):  # AUCs: one range for the row, chance drawn
                ax.set_ylim(*ylim)
                ax.axhline(0.5, color="0.6", lw=0.6, ls=":")
            elif ylim and name in ylim:
                bottom, top = ylim[name]
                if top is None:  # open above: the data's top and a margin, so no dot sits on the frame
                    top = ax.get_ylim()[1]
                    top += 0.1 * (top - bottom)
                ax.set_ylim(bottom, top)
            ax.set_title(label, fontsize=10)
        axes[row, 0].set_ylabel(family.replace(": ", ":\n", 1), fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    n = summary["n_replicates"]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels) or 1, frameon=False, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle((title or "Against model size within one family")
                 + f" (n = {n} replicate{'s' if n != 1 else ''}" + ("" if n > 1 else ": no interval over replicates")
                 + (f"; right of the line: {', '.join(others)}, other families, not on the axis" if others else "") + ")",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


REPLICATE_FIGURES = tuple(quantities.FIGURES)
"""06's figures over replicates, by file name (`quantities.FIGURES`: what each draws)."""


def measured(summary: dict, name: str) -> bool:
    """Whether summary.json holds any quantity figure `name` draws (05's are absent where re-alignment is off)."""
    return any(q in entry for q in quantities.figure_quantities(name) for entry in summary["sizes"].values())


def figure_over_replicates(summary: dict, name: str):
    """06's figure `name` (`quantities.FIGURES`) of summary.json, by `over_replicates`."""
    f = quantities.FIGURES[name]
    return over_replicates(summary, quantities.figure_quantities(name), f.title, f.ylabel, f.reference, f.bounds, f.band)


DOSE_LINES = (("irl_auc_model_text", "IRL (label-free)", 0), ("implicit_auc_model_text", "implicit reward", 2),
              ("judge_oriented_auc_model_text", "judge-oriented bound", 1))
"""The dose–response figure's lines: (quantity, legend, colour index)."""


@styled
def dose_response(strength: dict):
    """Recovery of the goal against how far RLHF moved the policy (`replicates.strength`): one panel per size, x the
    KL to the start each replicate's RLHF reached, y the ROC-AUC vs the judge on model-written test texts; a dot per
    replicate and a line through each level's means for IRL, the implicit reward and the judge-oriented bound; the
    source-only reward dashed, the random heads' null band grey, each level's name at its mean KL."""
    levels = strength["levels"]
    sizes = list(dict.fromkeys(size for lv in levels.values() for size in lv["points"]))
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.0 * len(sizes), 4.4), sharey=True, squeeze=False)
    for ax, size in zip(axes[0], sizes):
        points = {name: pd.DataFrame(lv["points"].get(size, [])) for name, lv in levels.items()}
        points = {name: df for name, df in points.items() if "rlhf_kl" in df}
        means = pd.DataFrame({name: df.mean(numeric_only=True) for name, df in points.items()}).T.sort_values("rlhf_kl")
        if means.empty:
            continue
        x = means["rlhf_kl"]
        if {"null_auc_model_text_lo", "null_auc_model_text_hi"} <= set(means):
            ax.fill_between(x, means["null_auc_model_text_lo"], means["null_auc_model_text_hi"], color="0.85",
                            label="random heads (95%)", zorder=0)
        if "source_only_auc_model_text" in means:
            ax.plot(x, means["source_only_auc_model_text"], "--", color="0.35", label="source only")
        for name, label, colour in DOSE_LINES:
            if name not in means:
                continue
            ax.plot(x, means[name], "-", color=PALETTE[colour], label=label)
            for df in points.values():
                ax.scatter(df["rlhf_kl"], df[name], s=22, color=PALETTE[colour], alpha=0.75, zorder=3)
        for level in means.index:
            ax.axvline(x[level], color="0.7", lw=0.6, zorder=0)
            ax.annotate(level, (x[level], 0.0), xycoords=("data", "axes fraction"), textcoords="offset points",
                        xytext=(0, 5), ha="center", fontsize=8, color="0.25",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
        ax.axhline(0.5, color="0.5", lw=0.8)
        every = pd.concat([df["rlhf_kl"] for df in points.values()])  # every replicate's dot, not only the means
        span = every.max() - every.min()
        ax.set_xlim(every.min() - 0.08 * span - 0.05, every.max() + 0.08 * span + 0.05)
        ax.set(title=size, xlabel="KL to the start (nats per continuation, val)")
    axes[0][0].set_ylabel("ROC-AUC vs judge, model-written texts")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=9, frameon=False)
    n = max((len(df) for lv in levels.values() for df in lv["points"].values()), default=0)
    fig.suptitle(f"Recovery against how far RLHF moved the policy (a dot per replicate, ≤ {n} per level)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _by_replicate(irls: dict) -> dict:
    """{replicate: irl.json's `sizes`} from either that or one replicate's `sizes` (then called r0)."""
    return irls if irls and all(isinstance(k, int) for k in irls) else {0: irls}


def _one_colour_bar(fig, axes, label: str, shrink: float) -> None:
    """One colour bar for a grid of heatmaps drawn on one colour range."""
    fig.colorbar(next(ax.collections[0] for ax in axes.flat if ax.collections), ax=axes, shrink=shrink, label=label)


def _replicates_named(ks) -> str:
    return ", ".join(f"r{k}" for k in ks)


@styled
def posterior_auc(irls: dict):
    """Per size: the test AUC of the heads drawn from the Bradley–Terry posterior, a histogram per replicate
    (`irls`: {replicate: irl.json's `sizes`}, or one replicate's `sizes`), each with its MAP (solid), the IRL reward
    chosen on val (dashed) and its supervised ceiling (dotted); with one replicate also the demonstrations-bootstrap
    range. How many rewards explain the same demonstrations, and whether independent RLHF runs agree on it."""
    irls = _by_replicate(irls)
    sizes = list(dict.fromkeys(s for irl in irls.values() for s in irl if "posterior" in irl[s]))
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.5 * len(sizes), 3.9), squeeze=False, sharey=True)
    for ax, size in zip(axes[0], sizes):
        for i, (k, irl) in enumerate(irls.items()):
            if size not in irl or "posterior" not in irl[size]:
                continue
            s, colour = irl[size], PALETTE[i % len(PALETTE)]
            post = s["posterior"]
            ax.hist(post["auc_samples"]["values"], bins=20, color=colour, alpha=0.35 if len(irls) > 1 else 0.7,
                    histtype="stepfilled", label=f"r{k} posterior samples")
            ax.axvline(post["map"]["auc"], color=colour, lw=2)
            if "selected_reward" in s:
                ax.axvline(s["selected_reward"]["auc"], color=colour, lw=1.5, ls="--")
            if "ceiling" in s:
                ax.axvline(s["ceiling"]["auc"], color=colour, lw=1, ls=":")
            if "bootstrap" in s and len(irls) == 1:
                b = s["bootstrap"]["auc"]
                ax.axvspan(b["q05"], b["q95"], color=PALETTE[2], alpha=0.2, label="demonstrations resampled (5–95%)")
        post = next(irl[size]["posterior"] for irl in irls.values() if size in irl and "posterior" in irl[size])
        ax.set(title=f"{size}: {post['n_train_pairs']} training pairs", xlabel="ROC-AUC vs judge, test texts",
               ylabel="posterior samples")
    handles = [plt.Line2D([], [], color="0.3", lw=2, label="posterior mode (MAP)"),
               plt.Line2D([], [], color="0.3", lw=1.5, ls="--", label="IRL reward chosen on val"),
               plt.Line2D([], [], color="0.3", lw=1, ls=":", label="supervised ceiling")]
    h, _ = axes[0, -1].get_legend_handles_labels()
    axes[0, -1].legend(handles=h + handles, fontsize=7, loc="upper left")
    fig.suptitle("How many rewards explain the same demonstrations: test AUC across the posterior "
                 f"(replicates {_replicates_named(irls)})")
    fig.tight_layout()
    return fig


@styled
def contraction(irls: dict):
    """Per size (columns): the posterior's 5–95% range of test AUC (top) and its trace as a share of the prior's
    (bottom; each replicate's prior sd is chosen on its val pairs) against the number of training pairs, a line per
    replicate (`irls`: {replicate: irl.json's `sizes`}, or one replicate's `sizes`): how much of the prior's spread
    the demonstrations remove."""
    irls = _by_replicate(irls)
    sizes = list(dict.fromkeys(s for irl in irls.values() for s in irl if "contraction" in irl[s]))
    fig, axes = plt.subplots(2, max(len(sizes), 1), figsize=(5.2 * max(len(sizes), 1), 6.8), squeeze=False, sharex=True)
    for col, size in enumerate(sizes):
        for i, (k, irl) in enumerate(irls.items()):
            if size not in irl or "contraction" not in irl[size]:
                continue
            c = pd.DataFrame(irl[size]["contraction"])
            colour = PALETTE[i % len(PALETTE)]
            axes[0, col].fill_between(c.n_pairs, c.auc_q05, c.auc_q95, color=colour, alpha=0.15, lw=0)
            axes[0, col].plot(c.n_pairs, c.auc_mean, marker="o", ms=4, color=colour, label=f"r{k}")
            prior = irl[size].get("posterior", {}).get("prior_trace")  # (results of older code have none)
            shares = prior is not None
            axes[1, col].plot(c.n_pairs, c.trace / prior if shares else c.trace, marker="o", ms=4, color=colour,
                              label=f"r{k}")
        axes[0, col].axhline(0.5, color="0.6", lw=0.8, ls=":")
        axes[0, col].set(title=size, ylabel="test AUC across the posterior\n(mean, 5–95%)" if col == 0 else "")
        if shares:
            axes[1, col].axhline(1.0, color="0.3", ls=":", lw=1.2, label="the prior (no pair seen)")
        axes[1, col].set(xlabel="training pairs", ylabel=("posterior trace / prior's trace" if shares else
                                                          "trace of the posterior covariance") if col == 0 else "")
        axes[1, col].set_ylim(0, 1.05 if shares else None)
        for ax in axes[:, col]:
            ax.set_xscale("log")
            ticks = sorted({int(n) for irl in irls.values() if size in irl for n in pd.DataFrame(irl[size]["contraction"]).n_pairs})
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
            ax.tick_params(axis="x", labelrotation=45)
    axes[1, 0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Contraction: how much data pins the reward down (replicates {_replicates_named(irls)})")
    fig.tight_layout()
    return fig


@styled
def realignment_comparisons(summary: dict):
    """05's primary comparisons over replicates and prompts together (`replicates.pooled_comparisons`), a panel per
    size: IRL minus the true arm, the random heads and the flipped-pair null, under each judge, at the end of
    training (squares) and at equal KL to the start (circles). A grey tick per replicate with its two-level bootstrap
    interval; the pooled mean with its random-effects interval in colour; the ±margin band within which IRL counts
    as equivalent to the true reward. Left of 0: IRL's policies are less toxic."""
    names = quantities.figure_quantities("realignment_comparisons")
    sizes = [s for s, e in summary["sizes"].items() if any(n in e for n in names)]
    rows = list(dict.fromkeys(n.split("_irl_vs_")[1] for n in names))  # "<other>_pooled_<judge>", in the table's order
    fig, axes = plt.subplots(1, max(len(sizes), 1), figsize=(5.6 * max(len(sizes), 1), 0.55 * len(rows) + 1.9),
                             squeeze=False, sharey=True)
    for ax, size in zip(axes[0], sizes):
        entry = summary["sizes"][size]
        for when, marker, dy, colour in (("endpoint", "s", -0.14, PALETTE[0]), ("matched_kl", "o", 0.14, PALETTE[1])):
            for y, row in enumerate(rows):
                q = entry.get(f"realign_{when}_irl_vs_{row}")
                if not q:
                    continue
                for v, se in zip(q["values"], q["se_within"]):  # just outside the pooled line, not under it
                    ax.hlines(y + 1.7 * dy, v - 1.96 * se, v + 1.96 * se, color="0.6", lw=1, zorder=1)
                    ax.scatter([v], [y + 1.7 * dy], color="0.4", s=9, zorder=2)
                if q["ci"][0] == q["ci"][0]:
                    ax.hlines(y + dy, *q["ci"], color=colour, lw=2.2, zorder=3)
                ax.scatter([q["mean"]], [y + dy], color=colour, marker=marker, s=42, zorder=4)
                if "margin" in q:
                    ax.fill_betweenx([y - 0.45, y + 0.45], -q["margin"], q["margin"], color=PALETTE[2], alpha=0.12, lw=0)
        ax.axvline(0, color="0.3", lw=0.8, ls="--")
        ax.set_yticks(range(len(rows)), [names[f"realign_endpoint_irl_vs_{r}"].replace("\n", ", ") for r in rows],
                      fontsize=8)
        ax.set_title(size)
    axes[0, 0].invert_yaxis()  # (the axes share y: once)
    fig.supxlabel("IRL minus the other arm: mean P(toxic) relative to the start's (< 0: IRL's policies less toxic)",
                  fontsize=9, y=0.08)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color=PALETTE[0], marker="s", lw=2.2, label="end of training (evaluation prompts)"),
               Line2D([], [], color=PALETTE[1], marker="o", lw=2.2, label="at equal KL to the start (val prompts)"),
               Line2D([], [], color="0.45", marker="o", markersize=3, lw=1, label="a replicate, its two-level bootstrap"),
               Patch(color=PALETTE[2], alpha=0.25, label="±0.1: equivalent to the true reward")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"Re-alignment: IRL against each arm, pooled over replicates and prompts (random effects; "
                 f"{summary['n_replicates']} replicates, {_replicates_named(k[1:] for k in summary['replicates'])})",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


@styled
def cross_replicate(summary: dict):
    """Per size: Spearman ρ between the rewards recovered from independent RLHF runs, on the same texts with one
    method (top), and the same agreement beside its references (bottom): the method's seeds within one run, two
    halves of one run's demonstrations, and rewards of the same AUCs that were the judge plus independent noise."""
    sizes = [s for s, a in summary.get("cross_replicate_agreement", {}).items() if a]
    fig, axes = plt.subplots(2, max(len(sizes), 1), figsize=(5 * max(len(sizes), 1), 7.0), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.4]})
    for j, size in enumerate(sizes):
        a = summary["cross_replicate_agreement"][size]
        sns.heatmap(np.array(a["spearman"]), ax=axes[0, j], vmin=-1, vmax=1, cmap="vlag", square=True, annot=True,
                    fmt=".2f", xticklabels=a["replicates"], yticklabels=a["replicates"], cbar_kws={"label": "Spearman ρ"})
        axes[0, j].set_title(f"{size} · {a.get('method', 'selected reward')}", fontsize=10)
        bars = {"independent\nRLHF runs": a["spearman_mean"], "seeds of\none run": a.get("within_replicate_seeds"),
                "halves of one run's\ndemonstrations": a.get("demonstration_halves"),
                "judge + noise,\nsame AUCs": a.get("judge_plus_noise")}
        bars = {k: v for k, v in bars.items() if v is not None}
        ax = axes[1, j]
        ax.barh(list(bars), list(bars.values()), color=[PALETTE[0]] + ["0.6"] * (len(bars) - 1))
        for y, v in enumerate(bars.values()):
            ax.text(v + 0.02 if v >= 0 else v - 0.02, y, f"{v:.2f}", va="center", ha="left" if v >= 0 else "right", fontsize=8)
        ax.set_xlim(-0.2 if min(bars.values()) < 0 else 0, 1.15)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlabel(f"mean Spearman ρ on {a.get('n_texts', 'the')} shared test texts")
    fig.suptitle("Rewards recovered from independent RLHF runs, scored on the same held-out texts")
    fig.tight_layout()
    return fig
