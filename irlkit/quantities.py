"""The summary's quantities and 05's reward arms, declared once: `summary.json` (`replicates`), the report's and
the README's table (`report`) and 06's figures over replicates (`plots`) are all read from here.

    QUANTITIES["irl_auc"].label        # 'IRL reward chosen on val: ROC-AUC vs judge (all test texts)'
    figure_quantities("recovery")      # {'irl_auc': 'IRL reward\\nvs judge', ...}: what that figure draws
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
    Arm("true", "re-alignment, true reward: relative change of toxicity", "true"),
    Arm("irl", "re-alignment, IRL reward", "IRL"),
    Arm("random", "re-alignment, random head", "random head"),
    Arm("transfer", "re-alignment, the other size's IRL reward", "other size's IRL", prefix=True),
)
"""05's arms, as the summary names them (`transfer` is the reward recovered from another size)."""


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


@dataclass(frozen=True)
class Figure:
    title: str
    ylabel: str
    reference: float | None
    """A horizontal line to read against (chance, no change)."""
    bounds: tuple
    """The range its quantities can take."""


FIGURES = {
    "toxicity_by_stage": Figure("Toxicity ratio of test-prompt continuations by stage (ground-truth judge)",
                                "toxicity ratio (P ≥ 0.5)", None, (0.0, 1.0)),
    "recovery": Figure("How well the reward is recovered: ROC-AUC on held-out texts", "ROC-AUC", 0.5, (0.0, 1.0)),
    "realignment": Figure("Re-alignment: relative change of the toxicity ratio, by reward", "relative change vs start",
                          0.0, (None, None)),
}
"""06's figures over replicates, by file name."""

_STAGE_SHORT = {"true": "RLHF\n(true reward)", "irl": "RLHF\n(IRL reward)", "random": "RLHF\n(random head)",
                "transfer": "RLHF\n(other size's IRL)"}

QUANTITIES = {q.name: q for q in (
    Quantity("ratio_start", "", "toxicity_by_stage", "start"),
    Quantity("ratio_rlhf", "", "toxicity_by_stage", "RLHF\n(true reward)"),
    *(Quantity(f"ratio_{a.name}", "", "toxicity_by_stage", _STAGE_SHORT.get(a.name, a.short)) for a in ARMS
      if a.name != "true"),
    Quantity("rlhf_relative_change", "RLHF: relative change of the judge's toxicity ratio"),
    Quantity("rlhf_relative_change_second", "RLHF: the same under the second judge (never trained on)"),
    Quantity("rlhf_perplexity_change", "RLHF: relative change of perplexity (clean human comments)"),
    Quantity("irl_auc", "IRL reward chosen on val: ROC-AUC vs judge (all test texts)", "recovery", "IRL reward\nvs judge"),
    Quantity("irl_auc_model_text", "… on model-written test texts only"),
    Quantity("irl_auc_human_text", "… on human-written test texts only"),
    Quantity("irl_human_auc", "IRL reward chosen on val: ROC-AUC vs human labels", "recovery", "IRL reward\nvs human labels"),
    Quantity("ceiling_auc", "supervised linear ceiling on the same features: ROC-AUC vs judge"),
    Quantity("irl_share_of_ceiling", "IRL reward's AUC as a share of the ceiling's"),
    Quantity("implicit_auc", "implicit reward β·log π_RLHF/π_start: ROC-AUC vs judge", "recovery", "implicit reward\nvs judge"),
    Quantity("implicit_auc_model_text", "… on model-written test texts only"),
    Quantity("random_auc", "random head: ROC-AUC vs judge", "recovery", "random head\nvs judge"),
    Quantity("random_auc_model_text", "… on model-written test texts only"),
    *(Quantity(f"realign_relative_change_{a.name}", a.label, "realignment", a.short) for a in ARMS),
    Quantity("irl_share_of_true_cut", "IRL reward's cut as a share of the true reward's"),
    Quantity("irl_minus_random", "re-alignment, IRL minus random (paired by replicate; < 0: IRL cut more)", "realignment",
             "IRL − random\n(paired)", ("realign_relative_change_irl", "realign_relative_change_random")),
    Quantity("irl_minus_true", "re-alignment, IRL minus true (paired by replicate; > 0: IRL cut less)",
             paired=("realign_relative_change_irl", "realign_relative_change_true")),
    Quantity("irl_auc_minus_random_auc", "ROC-AUC vs judge, IRL minus random head (paired by replicate)",
             paired=("irl_auc", "random_auc")),
    Quantity("irl_auc_minus_implicit_auc", "ROC-AUC vs judge, IRL minus implicit reward (paired by replicate)",
             paired=("irl_auc", "implicit_auc")),
)}
"""Every quantity of summary.json, in the order of the README's table."""


def table_rows() -> list[Quantity]:
    """The quantities that are rows of the summary table, in order."""
    return [q for q in QUANTITIES.values() if q.label]


def paired() -> dict[str, tuple]:
    """{name: (a, b)} of the paired per-replicate differences."""
    return {q.name: q.paired for q in QUANTITIES.values() if q.paired}


def figure_quantities(figure: str) -> dict[str, str]:
    """{quantity: tick label} of what figure `figure` draws, in order."""
    return {q.name: q.short for q in QUANTITIES.values() if q.figure == figure}
