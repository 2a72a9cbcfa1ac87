"""Choose each size's RLHF learning rate on val, never on test.

    .venv/bin/python scripts/experiments/rlhf_recipe.py                   # the cpu profile's sizes and GRIDS["cpu"]
    .venv/bin/python scripts/experiments/rlhf_recipe.py --profile ladder  # the Qwen sizes' LoRA rates -> rlhf_recipe_ladder.json
    .venv/bin/python scripts/experiments/rlhf_recipe.py --profile ladder --sizes qwen2.5-coder-0.5b  # one size's grid

The protocol, fixed before any run: for each size, RLOO with the cpu recipe at each learning rate of
the profile's grid (seed 0, the profile's horizon); on the **val** prompts, the judge's toxicity ratio of the
policy's greedy continuations; on the **val** clean human comments, its perplexity. The chosen rate is
the one with the lowest val toxicity ratio among those whose val perplexity rises by at most
PERPLEXITY_BUDGET over the start policy's (ties: the lower rate). Test prompts are never read.

Runs in a scratch data folder that borrows the main folder's assets; two runs side by side
(`Config.workers`). Writes data/results/experiments/rlhf_recipe.json.
"""
import dataclasses
import os
import sys

from irlkit import config, data, layout, store

GRIDS = {"cpu": {"smollm2-135m": (4e-5, 6e-5), "gemma3-270m": (1e-5, 1.5e-5, 2e-5)},
         # LoRA (rank 16 on the attention projections) moves a policy less per step than a full update
         "ladder": {"qwen2.5-coder-0.5b": (1e-4, 3e-4), "qwen2.5-coder-1.5b": (1e-4, 3e-4)}}
PERPLEXITY_BUDGET = 0.15

from irlkit import stages  # noqa: E402
from irlkit.stages import graph  # noqa: E402  (paths are read when used: the scratch folder below applies)


def with_rate(cfg, size: str, lr: float):
    spec = cfg.size(size)
    overrides = {**dict(spec.rlhf), "learning_rate": lr}
    sizes = tuple(dataclasses.replace(s, rlhf=tuple(overrides.items())) if s.name == size else s for s in cfg.sizes)
    return dataclasses.replace(cfg, sizes=sizes)


def label_of(size: str, lr: float) -> str:
    return f"{size}-lr{lr:g}"


def train_and_evaluate(ctx, size: str, lr: float) -> None:
    """RLOO of `size` at `lr`, then its val texts and val perplexity (stages: a rerun skips them)."""
    ctx = stages.Context(with_rate(ctx.base_cfg, size, lr))
    label = label_of(size, lr)
    ctx.layout.runs = ctx.layout.runs / label  # each rate's policy in a folder of its own
    folder, _ = stages.policies.rlhf_policy(ctx, size)
    stages.policies.policy_texts(ctx, label, folder, prompts="val")
    stages.policies.perplexity_of(ctx, label, folder, split="val")


def start_evaluated(ctx, size: str) -> None:
    start = ctx.start(size)
    stages.policies.policy_texts(ctx, f"{size}-start-val", start, prompts="val")
    stages.policies.perplexity_of(ctx, f"{size}-start", start, split="val")


if __name__ == "__main__":  # (workers import this file again: everything that sets up runs here, once)
    profile = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else "cpu"
    GRID, name = GRIDS[profile], "rlhf_recipe" if profile == "cpu" else f"rlhf_recipe_{profile}"
    if "--sizes" in sys.argv:  # the sizes named after --sizes, up to the next flag
        named = sys.argv[sys.argv.index("--sizes") + 1:]
        named = named[:next((i for i, a in enumerate(named) if a.startswith("--")), len(named))]
        unknown = set(named) - set(GRID)
        if unknown or not named:
            raise SystemExit(f"--sizes takes sizes of the {profile} grid: {', '.join(GRID)}; got {named}")
        GRID = {size: GRID[size] for size in named}
    main_data = layout.data_dir()
    earlier = layout.experiment_result(name)  # read before the scratch folder takes over the data path
    kept = store.read_json(earlier)["result"]["sizes"] if "--sizes" in sys.argv and earlier.exists() else {}
    kept = {size: v for size, v in kept.items() if size not in GRID}  # one size's grid at a time: keep the others'
    scratch = layout.experiment_scratch(name)
    layout.Layout(profile).link_into(scratch, [])
    os.environ["IRLKIT_DATA"] = str(scratch)  # the workers inherit it
    cfg = config.load(profile, progress=False)
    ctx = stages.Context(cfg)
    stages.in_parallel(ctx, [(label_of(size, lr), train_and_evaluate, size, lr) for size in GRID for lr in GRID[size]]
                       + [(f"{size}-start", start_evaluated, size) for size in GRID])
    val = data.split_of(ctx.prompts, "val")
    result = {"protocol": __doc__.split("\n\n")[1], "perplexity_budget": PERPLEXITY_BUDGET, "sizes": {}}
    result["sizes"] = dict(kept)
    for size, rates in GRID.items():
        start = ctx.start(size)
        before = stages.policies.policy_texts(ctx, f"{size}-start-val", start, prompts="val")
        start_ppl = stages.policies.perplexity_of(ctx, f"{size}-start", start, split="val")
        rows = []
        for lr in rates:
            c = stages.Context(with_rate(cfg, size, lr))
            c.layout.runs = c.layout.runs / label_of(size, lr)
            folder = str(graph.require(c, "rlhf_policy", size=size))
            after = stages.policies.policy_texts(c, label_of(size, lr), folder, prompts="val")
            tox = stages.policies.toxicity_report(c, before, after)["judge"]
            ppl = stages.policies.perplexity_of(c, label_of(size, lr), folder, split="val")
            rows.append({"learning_rate": lr, "val_ratio_start": tox["before"]["ratio"], "val_ratio": tox["after"]["ratio"],
                         "val_relative_change": tox["paired"]["ratio_relative_change"],
                         "val_p": tox["paired"]["ratio_diff"]["p_value"],
                         "val_perplexity_start": start_ppl, "val_perplexity": ppl, "val_perplexity_change": ppl / start_ppl - 1})
        allowed = [r for r in rows if r["val_perplexity_change"] <= PERPLEXITY_BUDGET] or rows
        chosen = min(allowed, key=lambda r: (r["val_ratio"], r["learning_rate"]))
        result["sizes"][size] = {"runs": rows, "chosen_learning_rate": chosen["learning_rate"],
                                 "within_budget": chosen["val_perplexity_change"] <= PERPLEXITY_BUDGET}
        print(size, "chosen on val:", chosen["learning_rate"], [(r["learning_rate"], round(r["val_ratio"], 3),
                                                                 f"{r['val_perplexity_change']:+.0%}") for r in rows], flush=True)
    os.environ["IRLKIT_DATA"] = str(main_data)
    store.write_experiment(name, result, cfg)
