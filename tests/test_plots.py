"""Every figure renders from a small synthetic results folder (same schema as a real run)."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from irlkit import irl, metrics, plots, report, stages


def _tox(rng):
    return metrics.toxicity(rng.uniform(size=40), n=50)


def _judges(rng):
    before, after = rng.uniform(size=40), rng.uniform(size=40) * 0.5
    return {w: {"name": w, "before": metrics.toxicity(before, n=50), "after": metrics.toxicity(after, n=50),
                "paired": metrics.compare_policies(before, after, n=50)} for w in ("judge", "second")}


def _irl_size(rng, n_seeds=3):
    n = 30
    demos = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(2 * n)], "split": ["val"] * n + ["test"] * n,
                          "prompt": ["x"] * 2 * n, "original_output": ["o"] * 2 * n, "expert_text": ["e"] * 2 * n,
                          "start_text": ["s"] * 2 * n, "human_label": rng.integers(0, 2, 2 * n)})
    for col in ("original_output", "expert_text", "start_text"):
        demos[f"{col}_judge"], demos[f"{col}_second"] = rng.uniform(size=2 * n), rng.uniform(size=2 * n)
    pools = [irl.text_pool(demos, "val", False), irl.text_pool(demos, "test", False),
             irl.comment_pool(demos, "val", False), irl.comment_pool(demos, "test", False)]
    pools = dict(zip(["val_pool", "test_pool", "val_comments", "test_comments"], pools))
    models = {}
    for name in ("probe/max_margin", "probe/logistic"):
        rewards = {"seeds": np.arange(n_seeds), **{k: rng.normal(size=(n_seeds, len(p))) for k, p in pools.items()}}
        history = pd.DataFrame([{"seed": s, "epoch": e, "val_auc": rng.uniform(), "val_pairwise_accuracy": rng.uniform(),
                                 "val_pair_margin": rng.normal()} for s in range(n_seeds) for e in (1, 2)])
        models[name] = stages.evaluation.model_result(*name.split("/"), history, rewards, pools)
    flats = models[name]["per_seed"]
    band = {m: {"q025": 0.4, "q975": 0.6, "mean": 0.5} for m in ("auc", "auc_model_text")}
    return {"models": models, "selected": "probe/logistic", "implicit": {"mean": flats[0], "sum": flats[1]}, "random": flats[2],
            "selected_reward": {**flats[0], "auc_model_text_ci": [0.5, 0.9]}, "source_only": flats[1],
            "null_band": {"n_heads": 1000, **band}}


def test_every_figure_renders(tmp_path):
    rng = np.random.default_rng(0)
    sizes = ("small", "large")
    rlhf = {s: {**_judges(rng), "perplexity": {"start": 10.0, "rlhf": 11.0}} for s in sizes}
    irl_result = {s: _irl_size(rng) for s in sizes}
    refinetune = {s: {name: {**_judges(rng), "policy": f"{s}-{name}", "perplexity": 11.0} for name in ("true", "irl", "random")} for s in sizes}
    for s in sizes:  # the random control trained in three runs, as 05 does
        before = rng.uniform(size=40)
        refinetune[s]["random"]["across_runs"] = {w: {
            "name": w, "start_ratio": float(metrics.is_toxic(before).mean()), "ratio_relative_change": 0.1,
            "ratio_diff": metrics.runs_difference(metrics.is_toxic(before), [rng.uniform(size=40) > 0.5] * 3, n=50)}
            for w in ("judge", "second")}
    curves = pd.concat([pd.DataFrame({"policy": s, "step": range(1, 6), "reward": rng.normal(size=5),
                                      "kl": rng.uniform(size=5)}) for s in sizes])
    history = pd.DataFrame([{"size": size, "mode": "probe", "loss": loss, "seed": s, "epoch": e,
                             "val_sign_accuracy": rng.uniform(), "val_auc": rng.uniform()}
                            for size in sizes for loss in ("max_margin", "logistic") for s in range(3) for e in range(1, 5)])
    demos = pd.DataFrame({"split": ["train"] * 20, **{f"{c}_judge": rng.uniform(size=20)
                                                       for c in ("start_text", "expert_text", "original_output")}})
    figures = {
        "curves": plots.training_curves(curves, "t"),
        "demos": plots.demo_scores({s: demos for s in sizes}),
        "toxicity": plots.toxicity_by_stage(rlhf, refinetune),
        "bars": plots.metric_bars(irl_result),
        "confusions": plots.confusions(irl_result),
        "heatmap": plots.seed_epoch_heatmap(history),
        "agreement": plots.seed_agreement(irl_result),
        "size": plots.size_effect(irl_result),
        "goal": plots.goal_recovery(irl_result),
    }
    for name, fig in figures.items():
        png = plots.save(fig, name, tmp_path)
        assert png.stat().st_size > 5000 and (tmp_path / f"{name}.pdf").exists()
    table = report.study_vs_ours(rlhf, irl_result, refinetune)
    assert len(table) == len(report.STUDY) and "ours small" in table
    assert len(report.results_table(rlhf, irl_result, refinetune)) == 2
    goal = report.goal_table(irl_result)
    assert list(goal.reward) == ["IRL (label-free)", "implicit reward", "source only", "null band (1000 random heads, 2.5–97.5%)"] * 2
    rt_table = report.refinetune_table({s: {**r, "start_perplexity": 10.0} for s, r in refinetune.items()})
    assert len(rt_table) == 6 and (rt_table["judge over RLOO runs"] != "one run").sum() == 2


def test_non_identifiability_figures_draw_every_replicate_and_name_it():
    rng = np.random.default_rng(1)
    sizes = ("small", "large")
    history = pd.DataFrame([{"size": size, "mode": "probe", "loss": loss, "seed": s, "epoch": e, "val_sign_accuracy": rng.uniform()}
                            for size in sizes for loss in ("max_margin", "logistic") for s in range(3) for e in range(1, 4)])
    heatmap = plots.seed_epoch_heatmap({0: history, 2: history.query("size == 'small'")})
    titles = [ax.get_title() for ax in heatmap.axes if ax.get_title()]
    assert titles[:4] == [f"r0 · {s} probe/{l}" for s in sizes for l in ("max_margin", "logistic")]
    assert titles[4:] == ["r2 · small probe/max_margin", "r2 · small probe/logistic"]  # r2 has no "large": blank panels
    assert "replicates r0, r2" in heatmap._suptitle.get_text()

    def with_posterior(shift):
        irl = {s: _irl_size(rng) for s in sizes}
        for s in irl.values():
            s["posterior"] = {"auc_samples": {"values": list(rng.normal(0.7 + shift, 0.03, 50))}, "map": {"auc": 0.7 + shift},
                              "n_train_pairs": 100, "prior_scale": 0.1}
        return irl
    irls = {0: with_posterior(0.0), 1: with_posterior(0.1)}
    posterior = plots.posterior_auc(irls)
    histograms = [p for p in posterior.axes[0].patches if p.get_label().endswith("posterior samples")]
    assert [p.get_label() for p in histograms] == ["r0 posterior samples", "r1 posterior samples"]
    assert "replicates r0, r1" in posterior._suptitle.get_text()
    agreement = plots.seed_agreement(irls)
    assert [ax.get_title()[:2] for ax in agreement.axes if ax.get_title()] == ["r0", "r0", "r1", "r1"]


def test_readme_section_is_replaced_between_markers():
    text = "intro\n<!-- results:start -->\nold\n<!-- results:end -->\nrest"
    assert report.replace_section(text, "results", "new") == "intro\n<!-- results:start -->\nnew\n<!-- results:end -->\nrest"


def test_size_axis_draws_every_replicate_on_a_shared_range_with_its_references(tmp_path):
    from irlkit import replicates

    values = {"qwen-0.5b": [0.70, 0.74, 0.72], "qwen-1.5b": [0.80, 0.78, 0.83]}
    summary = {"n_replicates": 3, "interval": "t-interval over replicates, 95%",
               "sizes": {s: {"irl_auc_model_text": replicates.interval(v), "ceiling_auc_model_text": replicates.interval([0.9] * 3),
                             "source_only_auc_model_text": replicates.interval([0.5] * 3),
                             "null_auc_model_text_lo": replicates.interval([0.4] * 3),
                             "null_auc_model_text_hi": replicates.interval([0.6] * 3),
                             "rlhf_relative_change": replicates.interval([-0.5] * 3)}
                         for s, v in values.items()}}
    other = {"irl_auc_model_text": replicates.interval([0.6, 0.62, 0.61])}
    fig = plots.size_axis(summary, {"qwen-0.5b": 630.0, "qwen-1.5b": 1777.0}, others={"SmolLM2 135M": other})
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3  # IRL and ceiling in the recovery row, RLHF in its own: only what the summary has
    irl = visible[0]
    assert [t.get_text() for t in irl.get_xticklabels()] == ["0.5B", "1.5B", "SmolLM2\n135M"]
    assert irl.get_ylim() == visible[1].get_ylim() == (0.35, 1.0)  # one range for a row of AUCs
    dots = [c for c in irl.collections if len(c.get_offsets()) == 3 and c.get_sizes()[0] == 16]
    assert sorted(round(float(np.mean(d.get_offsets()[:, 0]))) for d in dots) == [0, 1, 2]  # a dot per replicate
    bands = [c for c in irl.collections if c.get_label() == "random heads, 95% band" or len(c.get_paths()) == 1
             and c not in dots and c.get_facecolor().size and not len(c.get_offsets()) == 3]
    assert bands, "the null band is drawn"
    assert any(getattr(c, "get_linestyle", lambda: None)() and c.get_label() == "source only" for c in irl.collections)
    assert plots.save(fig, "size_axis", tmp_path).stat().st_size > 5000


def test_size_sentence_claims_only_what_the_interval_supports():
    from irlkit import replicates

    params = {"small": 630.0, "large": 1777.0}
    summary = lambda a, b: {"sizes": {"small": {"irl_auc_model_text": replicates.interval(a)},  # noqa: E731
                                      "large": {"irl_auc_model_text": replicates.interval(b)}}}
    clear = report.size_sentence(summary([0.70, 0.72, 0.71], [0.80, 0.83, 0.81]), params)
    assert "630M to 1,777M" in clear and "excludes 0" in clear
    assert "no size effect is claimed" in report.size_sentence(summary([0.70, 0.80, 0.75], [0.78, 0.72, 0.76]), params)
    assert "one replicate" in report.size_sentence(summary([0.70], [0.80]), params)
    one = lambda a, b: {"sizes": {s: {"irl_auc_model_text": {**replicates.interval([(lo + hi) / 2]), "test_ci": [[lo, hi]]}}  # noqa: E731
                                  for s, (lo, hi) in (("small", a), ("large", b))}}
    apart = report.size_sentence(one((0.60, 0.70), (0.80, 0.90)), params)
    assert "+0.200" in apart and "do not overlap" in apart and "no size effect is claimed" in apart
    assert " overlap, " in report.size_sentence(one((0.60, 0.82), (0.80, 0.90)), params)


def test_over_replicates_fits_the_axes_to_the_replicates_and_marks_intervals_cut_at_the_bounds():
    """With n = 2 a t-interval of a toxicity ratio runs far below 0: the axes stay within the ratio's range and
    around the replicates' values, and the legend says an interval was cut."""
    from irlkit import replicates

    summary = {"n_replicates": 2, "interval": "t-interval over replicates, 95%",
               "sizes": {"a": {"ratio_start": replicates.interval([0.10, 0.11]),
                               "ratio_rlhf": replicates.interval([0.02, 0.20])}}}
    quantities = {"ratio_start": "start", "ratio_rlhf": "RLHF"}
    fig = plots.over_replicates(summary, quantities, "toxicity", "ratio", bounds=(0.0, 1.0))
    lo, hi = fig.axes[0].get_ylim()
    assert summary["sizes"]["a"]["ratio_rlhf"]["ci"][0] < 0 == lo and hi < 0.5
    legend = lambda f: " ".join(t.get_text() for t in f.axes[0].get_legend().get_texts())  # noqa: E731
    assert "past the axis" in legend(fig)
    narrow = {**summary, "sizes": {"a": {"ratio_start": replicates.interval([0.10, 0.11])}}}
    assert "past the axis" not in legend(plots.over_replicates(narrow, quantities, "t", "r", bounds=(0.0, 1.0)))


def test_summary_table_adds_the_cross_replicate_agreement_row_only_with_two_or_more_replicates():
    from irlkit import replicates

    summary = {"sizes": {"a": {"irl_auc": replicates.interval([0.7, 0.8, 0.75])}, "b": {"irl_auc": replicates.interval([0.6] * 3)}},
               "cross_replicate_agreement": {"a": {"replicates": ["r0", "r1", "r2"], "spearman_mean": 0.512, "method": "probe/hinge",
                                                   "within_replicate_seeds": 0.9, "demonstration_halves": 0.7,
                                                   "judge_plus_noise": 0.31},
                                             "b": None}}
    table = report.summary_table(summary)
    last = table.iloc[-1]
    assert "independent RLHF runs" in last["quantity"] and last["a"] == "0.51 (0.90; 0.70; 0.31), probe/hinge, 3 replicates"
    assert last["b"] == "fewer than 2 replicates"
    fig = plots.cross_replicate({**summary, "cross_replicate_agreement": {"a": {
        **summary["cross_replicate_agreement"]["a"], "spearman": np.eye(3).tolist(), "n_texts": 480}}})
    assert len(fig.axes) == 3  # the matrix, its colour bar, the agreement beside its references
    assert "independent" not in report.summary_table({**summary, "cross_replicate_agreement": {"a": None, "b": None}}).iloc[-1]["quantity"]


def test_realignment_comparisons_draw_each_pooled_comparison_and_the_readme_table_keeps_the_headline_rows():
    from irlkit import replicates

    pooled = lambda v: {**replicates.random_effects(v, [0.02] * len(v)), "margin": 0.1}  # noqa: E731
    summary = {"n_replicates": 3, "replicates": ["r0", "r1", "r2"], "sizes": {"a": {
        "realign_endpoint_irl_vs_true_pooled_second": pooled([0.01, 0.03, 0.0]),
        "realign_endpoint_irl_vs_random_pooled_judge": pooled([-0.4, -0.5, -0.45]),
        "irl_auc": replicates.interval([0.7, 0.8, 0.75]), "irl_auc_model_text": replicates.interval([0.6, 0.7, 0.65])}}}
    fig = plots.realignment_comparisons(summary)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "IRL − true, second judge" in ticks and "IRL − random, ground-truth judge" in ticks and "r0, r1, r2" in fig._suptitle.get_text()
    readme = report.summary_table(summary, readme=True)["quantity"].tolist()
    assert any("IRL minus true" in q for q in readme) and any("label-free" in q for q in readme)
    assert not any("pooled (mostly who wrote them)" in q for q in readme)  # report.md's row, not the README's
    assert len(report.summary_table(summary)) == len(readme) + 1


def test_the_style_is_applied_per_figure_not_at_import():
    import subprocess
    import sys

    probe = ("import matplotlib; before = dict(matplotlib.rcParams); import irlkit.plots; "
             "print([k for k in before if before[k] != matplotlib.rcParams[k]])")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    fig = plots.styled(lambda: plt.subplots()[0])()
    assert fig.axes[0].xaxis._major_tick_kw.get("gridOn") and plt.rcParams["axes.grid"] is False
    plt.close(fig)
