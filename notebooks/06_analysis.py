# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Analysis: every replicate summarised, every figure, and our numbers beside the study's
#
# This notebook reads only the committed results of a profile,
# `data/results/<profile>/` (JSON and CSV, written by 01–05), so it runs on a
# fresh clone without any run folder. A replicate counts when its manifest says
# it was made by this config and this code; the summary over the replicates
# (`summary.json`) gives every headline number with a t-interval over
# replicates. The detailed figures show the first replicate. It renders the
# figures into `figures/<profile>/` (PNG + PDF), writes every table into
# `data/results/<profile>/report.md`, and for the `cpu` profile the summary
# table into the README (between the `results` markers).

# %% tags=["parameters"]
PROFILE = "cpu"
SEED = 0
OVERRIDES = {}
WRITE_README = None  # None: only for the cpu profile

# %%
from irlkit import config, layout, plots, quantities, replicates, report, store

cfg = config.load(PROFILE, seed=SEED, **OVERRIDES)
where = layout.Layout(cfg.profile)
runs, left_out = replicates.collect(where, cfg)
for k, why in left_out.items():
    print(f"replicate r{k} left out: {why}")
current = replicates.is_current(runs, cfg)
print(f"{len(runs)} replicate(s) kept: {[f'r{k}' for k in runs]}"
      + ("" if current or not runs else " -- WARNING: made by another config or code than this checkout's"))

# %% [markdown]
# ## 1 · The summary over replicates

# %%
summary = ({**replicates.summarise(runs), "reward_dose": replicates.reward_dose(runs), "made_by_this_checkout": current}
           if runs else None)
if summary and len({spec.name.split("-")[0] for spec in cfg.sizes}) == 1:  # one family: a size axis (section 5)
    summary["larger_minus_smaller"] = replicates.size_difference(summary, {spec.name: spec.params_m for spec in cfg.sizes})
sweep = replicates.strength(where, cfg)  # the RLHF-strength sweep's levels (section 2 draws it)
if summary or sweep["levels"]:
    store.write_result(where.summary, {**(summary or {}), "strength": sweep}, cfg)
    long = replicates.long_table({**(summary or {}), "strength": sweep}, cfg.profile)  # the same, one value per row
    store.atomic_write_text(where.table("summary"), long.to_csv(index=False))
if summary:
    for name in plots.REPLICATE_FIGURES:
        if not plots.measured(summary, name):
            print(f"{name}: not measured in profile {cfg.profile!r} (realignment is 05's, off where refinetune.enabled is)")
            continue
        plots.show(plots.figure_over_replicates(summary, name), name, where.figures)
    if any(n in e for n in quantities.figure_quantities("realignment_comparisons") for e in summary["sizes"].values()):
        plots.show(plots.realignment_comparisons(summary), "realignment_comparisons", where.figures)
    display(report.summary_table(summary))  # noqa: F821
else:
    print(f"no replicate of this code in {where.replicates}: the figures below show the results in {where.results}")

# %% [markdown]
# Each dot is one replicate: the whole study run again with its own seeds.
# A claim about an arm or a reward holds only where the interval of its
# difference excludes 0. Re-alignment's comparisons are pooled over replicates
# and prompts together (`realign_<when>_irl_vs_<arm>_pooled_<judge>` in
# `summary.json`): "beats random" needs both judges' intervals left of 0, and
# "as well as the true reward" an interval inside ±0.1 (`equivalent`).
#
# ### Does a better reward align better? Every re-alignment run of every replicate
# Each run of a probe reward (IRL, the flipped-pair null, the random heads): its change of mean P(toxic) from the
# start against its reward's label-free agreement with the demonstrations and its AUC against the judge. The
# Spearman correlation over runs, with a bootstrap interval and n, is `reward_dose` in `summary.json`.

# %%
if summary and summary.get("reward_dose"):
    plots.show(plots.reward_dose({size: d["points"] for size, d in summary["reward_dose"].items()},
                                 f"re-alignment runs of {summary['n_replicates']} replicate(s)"),
               "reward_dose", where.figures)
    for size, d in summary["reward_dose"].items():
        print(report.dose_sentence(size, d))
#
# ## 2 · How far must RLHF move a policy before its goal can be read?
# The RLHF-strength sweep (`config.STRENGTH`): each level trains RLHF harder
# (more RLOO steps, more prompts per step) and runs 01–04 again, over replicates
# (`python -m irlkit.runner PROFILE --cells` lists them). x is the KL to the
# start that each replicate's RLHF actually reached, on val prompts; y is how
# well the recovered reward orders model-written test texts by the judge.

# %%
if sweep["levels"]:
    plots.show(plots.dose_response(sweep), "dose_response", where.figures)
    for size, differences in sweep["strongest_minus_weakest"].items():
        print(report.strength_sentence(size, differences, list(sweep["levels"])))
    display(report.strength_table(sweep))  # noqa: F821
else:
    print(f"no level of the RLHF-strength sweep has replicates of its own yet ({where.results / 'levels'})")

# %% [markdown]
# ## 3 · One replicate in detail
# From here on, the first replicate (or, for results made before replicates
# existed, the profile's single run).

# %%
detail = where.of_replicate(min(runs)) if runs else where  # no replicates at all: a single run of an earlier layout
r = report.load_results(detail)
detail_ok = r["rlhf"] is not None and r["irl"] is not None  # no replicate of the profile yet (only a sweep's): skip
print(f"detail: {detail.results}", {name: "missing" if value is None else "read" for name, value in r.items()}
      if detail_ok else f"no results of the profile's own replicates in {detail.results}: sections 3–4 are skipped")

# %% [markdown]
# ### Training curves of RLHF (01) and re-alignment (05)

# %%
if detail_ok:
    for name, title in (("rlhf_curves", "RLHF against the ground-truth judge"),
                        ("refinetune_curves", "RLHF again, rewarded by the recovered and by a random reward")):
        if r[name] is None:
            print(f"{name}: not in {detail.results} (written by the notebook that trains these policies)")
        else:
            plots.show(plots.training_curves(r[name], title), name, where.figures)

# %% [markdown]
# ### Toxicity by stage, under both judges, with bootstrap CIs over test prompts

# %%
if detail_ok:
    plots.show(plots.toxicity_by_stage(r["rlhf"], r["refinetune"]),
               "toxicity_by_stage_one_replicate" if summary else "toxicity_by_stage", where.figures)

# %% [markdown]
# ### Recovered rewards: metrics and confusion matrices

# %%
if detail_ok:
    plots.show(plots.metric_bars(r["irl"]), "irl_metrics", where.figures)
    plots.show(plots.confusions(r["irl"]), "irl_confusions", where.figures)

# %% [markdown]
# ### Non-identifiability: seed × epoch, seed × seed agreement, the posterior
# Every replicate, a row (or a colour) each: one replicate's seeds can agree while
# independent RLHF runs do not.

# %%
if detail_ok:
    irls = {k: run["irl"]["sizes"] for k, run in runs.items()} if runs else {0: r["irl"]}  # every replicate
    histories = ({k: report.load_results(where.of_replicate(k))["irl_history"] for k in runs} if runs
                 else {0: r["irl_history"]})
    histories = {k: h for k, h in histories.items() if h is not None}
    if not histories:
        print(f"irl_history: not in {detail.results} (written by 03)")
    else:
        plots.show(plots.seed_epoch_heatmap(histories, "val_sign_accuracy"), "non_identifiability_heatmap",
                   where.figures)
        full = [("full", loss) for loss in cfg.irl.full_losses]
        if all({"full"} <= set(h["mode"]) and "train_pairwise_accuracy" in h for h in histories.values()):
            # the mode whose seeds train the network: where seeds can end on different rewards
            plots.show(plots.seed_epoch_heatmap(histories, "val_auc", models=full), "full_mode_seed_epoch_auc",
                       where.figures)
    plots.show(plots.seed_agreement(irls), "irl_seed_agreement", where.figures)
    if any("posterior" in s for irl in irls.values() for s in irl.values()):
        plots.show(plots.posterior_auc(irls), "posterior_auc", where.figures)
        plots.show(plots.contraction(irls), "contraction", where.figures)
    if summary and any(summary["cross_replicate_agreement"].values()):
        plots.show(plots.cross_replicate(summary), "cross_replicate_agreement", where.figures)

# %% [markdown]
# ### Two models, losses and modes
# The sizes of the `cpu` profile are two models of different families
# (SmolLM2-135M-Instruct and Gemma-3-270M base): read this as two models side
# by side, not as an effect of size. The `ladder` profile's sizes are one family.

# %%
if detail_ok:
    families = {spec.name.split("-")[0] for spec in cfg.sizes}  # smollm2, gemma3, qwen2.5: the family is the name's stem
    title = ("Size effect within one family: spread over seeds of each metric" if len(families) == 1 else
             f"Two models of different families ({', '.join(sorted(families))}), not a size effect: spread over seeds")
    plots.show(plots.size_effect(r["irl"], title=title), "size_effect", where.figures)
    if len(families) == 1 and summary:  # one family: a size axis, each metric against parameter count
        params = {spec.name: spec.params_m for spec in cfg.sizes}
        cpu = layout.Layout("cpu").summary  # the cpu profile's models: other families, drawn beside the axis
        others = ({f"{name} (cpu profile)": entry for name, entry in store.read_json(cpu)["sizes"].items()}
                  if cfg.profile != "cpu" and cpu.exists() else {})
        plots.show(plots.size_axis(summary, params, others=others), "size_axis", where.figures)
        for quantity in ("irl_auc_model_text", "rlhf_relative_change"):
            print(report.size_sentence(summary, params, quantity))

# %% [markdown]
# ## 4 · The study vs this compendium

# %%
if detail_ok:
    report.study_vs_ours(r["rlhf"], r["irl"], r["refinetune"])

# %%
if detail_ok:
    for line in report.SETUP_DIFFERENCES:
        print("-", line)

# %% [markdown]
# ## 5 · The report page and the README

# %%
timings = store.read_json(where.result("timings")) if where.result("timings").exists() else {}
page = (report.full_report(cfg.profile, r["rlhf"], r["irl"], r["refinetune"], r["judges"], timings, summary,
                           detail=f"replicate r{detail.replicate}" if runs else "") if detail_ok
        else f"# Report of profile `{cfg.profile}`\n\nNo replicate of the profile's own has results yet.\n")
if sweep["levels"]:
    page += "\n## The RLHF-strength sweep\n\n" + "".join(
        f"- {report.strength_sentence(size, d, list(sweep['levels']))}\n" for size, d in sweep["strongest_minus_weakest"].items()
    ) + "\nMean [95% t-interval over the level's replicates] (n):\n\n" + report.markdown_table(report.strength_table(sweep))
store.atomic_write_text(where.report, page)
if WRITE_README if WRITE_README is not None else cfg.profile == "cpu":
    readme = layout.ROOT / "README.md"
    body = (f"Profile `{cfg.profile}`; generated by `notebooks/06_analysis.ipynb` from `data/results/{cfg.profile}/`. "
            f"Every table: [`data/results/{cfg.profile}/report.md`](data/results/{cfg.profile}/report.md).\n\n")
    if summary:
        made_by = "" if current else (f" **Made by code {summary['code_hash']}, not this checkout's**: rerun the "
                                       f"replicates (`./run_all.sh`) for numbers of the current code.")
        body += (f"Mean [95% interval] (n) of {summary['n_replicates']} replicate(s) "
                 f"({', '.join(summary['replicates'])}): a t-interval over replicates; for the rows pooled over "
                 "replicates and prompts, a random-effects interval; p with Holm's adjustment within its family of "
                 f"claims.{made_by}\n\n"
                 + report.markdown_table(report.summary_table(summary, readme=True)))
    elif detail_ok:
        body += report.markdown_table(report.results_table(r["rlhf"], r["irl"], r["refinetune"]))
    store.atomic_write_text(readme, report.replace_section(readme.read_text(), "results", body))
