"""The summary's quantities and 05's reward arms, declared once: `summary.json` (`replicates`), the report's and
the README's table (`report`) and 06's figures over replicates (`plots`) are all read from here.

    QUANTITIES["irl_auc_model_text"].label   # the headline row: 'IRL reward (label-free selection): ROC-AUC …'
    figure_quantities("recovery")            # {'irl_auc_model_text': 'IRL\\n(label-free)', ...}: what it draws
    [q.name for q in table_rows()]     # the summary table's rows, in the README's order

Adding a reward arm to 05: a row of `ARMS` here, its reward and policy in `stages/realignment.py`, and its stage
in `stages/graph.py` if it trains on a reward of a new kind (docs/architecture.md walks through it). Adding a
summary quantity: a row of `QUANTITIES` here and how a replicate's results give it in `replicates.quantities`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    name: str
    """How summary.json names it (`realign_relative_change_<name>`, `ratio_<name>`)."""
    label: str
    """Its row in the summary table."""
    short: str
    """Its tick label in 06's figures."""
    prefix: bool = False
    """True: refinetune.json names its entries `<name>_from_<size>` (one per other size)."""


ARMS = (
    Arm("true", "re-alignment, true reward (run 0 is 01's RLHF policy)", "true"),
    Arm("irl", "re-alignment, IRL reward", "IRL"),
    Arm("flipped", "re-alignment, IRL reward fitted to randomly flipped pairs (the null)", "flipped IRL"),
    Arm("random", "re-alignment, random head", "random head"),
    Arm("transfer", "re-alignment, the other size's IRL reward", "other size's IRL", prefix=True),
)
"""05's arms, as the summary names them (`transfer` is the reward recovered from another size)."""


def arm_entries(size_entries: dict) -> dict:
    """refinetune.json's entries of one size that are arms (a policy's results), by name, without its other keys
    (`start_perplexity`, `endpoint_comparisons`, ...)."""
    return {name: e for name, e in size_entries.items() if isinstance(e, dict) and "policy" in e}


def dose_points(refinetune: dict, replicate: int | None = None) -> dict[str, list[dict]]:
    """{size: one row per run of a probe reward of 05 (IRL, flipped, random)}: the run's change of mean P(toxic) from
    the start (the endpoint, ground-truth judge, relative to the start's mean) beside its reward's label-free agreement
    with the demonstrations and its AUC against the judge (`reward_agreement` of refinetune.json's `sizes`)."""
    out = {}
    for size, entries in refinetune.items():
        for arm, e in arm_entries(entries).items():
            if "reward_agreement" not in e or "endpoint" not in e:
                continue
            start = e["endpoint"]["judge"]["start_mean"]
            for run, (agreement, mean) in enumerate(zip(e["reward_agreement"], e["endpoint"]["judge"]["run_means"])):
                out.setdefault(size, []).append({"replicate": replicate, "arm": arm, "run": run, **agreement,
                                                 "relative_change": mean / start - 1 if start else float("nan")})
    return out


@dataclass(frozen=True)
class Quantity:
    name: str
    label: str
    """Its row in the summary table (report.md, README); empty: drawn only, not a row."""
    figure: str = ""
    """The 06 figure over replicates that draws it (a key of `FIGURES`), if any."""
    short: str = ""
    """Its tick label in that figure."""
    paired: tuple = ()
    """(a, b): the quantity is the per-replicate difference a − b, with its t-interval and p-value."""
    scale: str = "linear"
    """Where its interval over replicates is computed (`replicates.SCALES`): `logit` for a share or an AUC in
    (0, 1), `log1p` for a relative change (≥ −1), `linear` otherwise."""
    readme: bool = False
    """A row of the README's table too (the findings read from it); report.md has every row."""
    family: str = ""
    """The family of claims a paired comparison belongs to for Holm's adjustment (`replicates.holm`): `recovery`
    (the recovered reward against its references) or `re-alignment` (05's arms against each other)."""


@dataclass(frozen=True)
class Figure:
    title: str
    ylabel: str
    reference: float | None
    """A horizontal line to read against (chance, no change)."""
    bounds: tuple
    """The range its quantities can take."""
    band: tuple = ()
    """(low, high) quantities drawn as a grey band behind every column: the null band of random heads."""


FIGURES = {
    "toxicity_by_stage": Figure("Toxicity ratio of test-prompt continuations by stage (ground-truth judge)",
                                "toxicity ratio (P ≥ 0.5)", None, (0.0, 1.0)),
    "recovery": Figure("Is the goal recovered? ROC-AUC vs the judge, model-written test texts",
                       "ROC-AUC, model-written texts", 0.5, (0.0, 1.0),
                       band=("null_auc_model_text_lo", "null_auc_model_text_hi")),
    "realignment": Figure("Re-alignment: change of mean P(toxic) of sampled continuations from the start's, by reward "
                          "(ground-truth judge)", "relative change vs start", 0.0, (-1.0, None)),
}
"""06's figures over replicates, by file name."""

_STAGE_SHORT = {"true": "RLHF\n(true reward)", "irl": "RLHF\n(IRL reward)", "flipped": "RLHF\n(flipped IRL)",
                "random": "RLHF\n(random head)",
                "transfer": "RLHF\n(other size's IRL)"}
_MT = "on model-written test texts"
JUDGES = {"judge": "ground-truth judge", "second": "second judge, never trained on"}

QUANTITIES = {q.name: q for q in (
    Quantity("ratio_start", "", "toxicity_by_stage", "start", scale="logit"),
    Quantity("ratio_rlhf", "", "toxicity_by_stage", "RLHF\n(true reward)", scale="logit"),
    *(Quantity(f"ratio_{a.name}", "", "toxicity_by_stage", _STAGE_SHORT.get(a.name, a.short), scale="logit") for a in ARMS
      if a.name != "true"),
    # the headline: does IRL read the goal, beyond who wrote the text?
    Quantity("irl_auc_model_text", f"IRL reward (label-free selection): ROC-AUC vs judge {_MT}", "recovery",
             "IRL\n(label-free)", scale="logit", readme=True),
    Quantity("source_only_auc_model_text", "… a reward that knows only who wrote the text (source only)", "recovery",
             "source\nonly", scale="logit", readme=True),
    Quantity("null_auc_model_text_hi", "… 97.5% of random heads on the same features (null band's top)", scale="logit", readme=True),
    Quantity("implicit_auc_model_text", "… the implicit reward β·log π_RLHF/π_start (no training)", "recovery",
             "implicit\nreward", scale="logit", readme=True),
    Quantity("oracle_irl_auc_model_text", "… IRL reward selected with the judge's val AUC (oracle: no auditor has it)",
             "recovery", "IRL\n(oracle)", scale="logit", readme=True),
    Quantity("judge_oriented_auc_model_text", "… the same method on the pairs re-oriented by the judge (what the texts allow)",
             "recovery", "judge-\noriented", scale="logit", readme=True),
    Quantity("ceiling_auc_model_text", "… supervised linear ceiling on the same features (judge labels)", "recovery",
             "ceiling", scale="logit", readme=True),
    Quantity("irl_share_of_ceiling_model_text", "IRL's AUC excess over chance as a share of the ceiling's (model-written)"),
    Quantity("irl_auc_expert_text", "IRL reward: ROC-AUC vs judge within the RLHF policy's texts", scale="logit"),
    Quantity("irl_auc_start_text", "IRL reward: ROC-AUC vs judge within the start policy's texts", scale="logit"),
    Quantity("irl_auc_human_text", "IRL reward: ROC-AUC vs judge within human-written texts", scale="logit"),
    Quantity("irl_auc", "IRL reward: ROC-AUC vs judge, all test texts pooled (mostly who wrote them)", scale="logit"),
    Quantity("source_only_auc", "… source only, pooled", scale="logit"),
    Quantity("null_auc_hi", "… 97.5% of random heads, pooled", scale="logit"),
    Quantity("irl_share_of_ceiling", "IRL's AUC excess over chance as a share of the ceiling's (pooled)"),
    Quantity("irl_human_auc", "IRL reward: ROC-AUC vs human labels", scale="logit"),
    # what the demonstrations carry of the goal
    Quantity("demo_judge_agreement", "demonstrations: share of training pairs the judge orders as they do", scale="logit", readme=True),
    Quantity("demo_ties", "demonstrations: share of training pairs the judge scores alike", scale="logit"),
    Quantity("demo_judge_gap", "demonstrations: mean judge P(toxic), start − RLHF policy"),
    Quantity("rlhf_kl", "RLHF: KL to the start policy, nats per continuation (sampled, val prompts)", scale="log1p", readme=True),
    Quantity("rlhf_relative_change", "RLHF: relative change of the judge's toxicity ratio", scale="log1p", readme=True),
    Quantity("rlhf_relative_change_second", "RLHF: the same under the second judge (never trained on)", scale="log1p", readme=True),
    Quantity("rlhf_perplexity_change", "RLHF: relative change of perplexity (clean human comments)", scale="log1p"),
    Quantity("random_auc_model_text", f"05's random head (one draw): ROC-AUC vs judge {_MT}", scale="logit"),
    *(q for a in ARMS for q in (
        Quantity(f"realign_endpoint_{a.name}", f"{a.label}: relative change of mean P(toxic), sampled continuations "
                 "of the evaluation prompts (judge)", "realignment", a.short, scale="log1p", readme=a.name != "transfer"),
        Quantity(f"realign_endpoint_{a.name}_second", "… the same under the second judge", scale="log1p"))),
    # 05's primary comparisons: each replicate's two-level bootstrap (RLOO runs × prompts) pooled over replicates
    *(Quantity(f"realign_{when}_irl_vs_{other}_pooled_{judge}",
               f"re-alignment{at}, IRL minus {other}: mean P(toxic) relative to the start's, {JUDGES[judge]}{where} "
               "(pooled over replicates and prompts)", "realignment_comparisons",
               f"IRL − {other}\n{JUDGES[judge].split(',')[0]}", readme=when == "endpoint" or (other, judge) == ("true", "second"),
               family="re-alignment")
      for when, at, where in (("endpoint", "", ", evaluation prompts"), ("matched_kl", " at equal KL to the start", ", val prompts"))
      for other in ("true", "random", "flipped") for judge in (("second", "judge") if other == "true" else ("judge", "second"))),
    *(Quantity(f"realign_relative_change_{a.name}", f"{a.label}: relative change of the greedy toxicity ratio (test; "
               "secondary)", scale="log1p") for a in ARMS),
    # the same per replicate, under the primary judge only (summary.json; the pooled rows above are the table's)
    *(Quantity(f"realign_{when}_irl_vs_{other}", "") for when in ("endpoint", "matched_kl") for other in ("true", "random", "flipped")),
    Quantity("irl_share_of_true_cut", "IRL reward's cut as a share of the true reward's"),
    Quantity("irl_minus_random", "re-alignment, IRL minus random, greedy toxicity ratio (secondary; paired by replicate; "
             "< 0: IRL cut more)", paired=("realign_relative_change_irl", "realign_relative_change_random"),
             family="re-alignment"),
    Quantity("irl_minus_true", "re-alignment, IRL minus true, greedy toxicity ratio (secondary; paired by replicate; "
             "> 0: IRL cut less)", paired=("realign_relative_change_irl", "realign_relative_change_true"),
             family="re-alignment"),
    Quantity("irl_minus_source_only_model_text", f"ROC-AUC {_MT}, IRL minus source only (paired by replicate)",
             paired=("irl_auc_model_text", "source_only_auc_model_text"), readme=True, family="recovery"),
    Quantity("irl_minus_null_model_text", f"ROC-AUC {_MT}, IRL minus the null band's top (paired by replicate)",
             paired=("irl_auc_model_text", "null_auc_model_text_hi"), readme=True, family="recovery"),
    Quantity("irl_minus_implicit_model_text", f"ROC-AUC {_MT}, IRL minus implicit reward (paired by replicate)",
             paired=("irl_auc_model_text", "implicit_auc_model_text"), family="recovery"),
    Quantity("irl_minus_oracle_model_text", f"ROC-AUC {_MT}, label-free minus oracle selection (paired by replicate)",
             paired=("irl_auc_model_text", "oracle_irl_auc_model_text"), family="recovery"),
    Quantity("judge_oriented_minus_irl_model_text", f"ROC-AUC {_MT}, judge-oriented minus IRL: what the method leaves "
             "(paired by replicate)", paired=("judge_oriented_auc_model_text", "irl_auc_model_text"), family="recovery"),
)}
"""Every quantity of summary.json, in the order of the README's table (the headline first)."""


def scale_of(name: str) -> str:
    """Where `name`'s interval over replicates is computed (`Quantity.scale`; linear for an undeclared name)."""
    q = QUANTITIES.get(name)
    return q.scale if q else "linear"


GOAL_REWARDS = (("selected_reward", "IRL\n(label-free)"), ("oracle_reward", "IRL\n(oracle)"),
                (("implicit", "sum"), "implicit\nreward"), ("source_only", "source\nonly"),
                ("judge_oriented", "judge-\noriented"), ("ceiling", "ceiling"))
"""One replicate's recovered reward and its references, as 04's figure and table show them, in order: its entry in
irl.json (a key, or a path of keys) and its label."""


def entry(size_result: dict, key) -> dict:
    """irl.json's entry of one size at `key` (a key or a path of keys; {} where it is absent)."""
    for k in (key if isinstance(key, tuple) else (key,)):
        size_result = size_result.get(k, {}) if isinstance(size_result, dict) else {}
    return size_result


def table_rows() -> list[Quantity]:
    """The quantities that are rows of the summary table, in order."""
    return [q for q in QUANTITIES.values() if q.label]


def paired() -> dict[str, tuple]:
    """{name: (a, b)} of the paired per-replicate differences."""
    return {q.name: q.paired for q in QUANTITIES.values() if q.paired}


def figure_quantities(figure: str) -> dict[str, str]:
    """{quantity: tick label} of what figure `figure` draws, in order."""
    return {q.name: q.short for q in QUANTITIES.values() if q.figure == figure}
