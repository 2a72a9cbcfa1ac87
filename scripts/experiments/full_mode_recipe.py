"""Choose full mode's recipe (the top blocks' learning rate and epochs) on val, never on test.

    .venv/bin/python -m irlkit.runner cpu --replicate 0 --only 01_rlhf 02_sampling   # its demonstrations
    .venv/bin/python scripts/experiments/full_mode_recipe.py                          # -> full_mode_recipe.json

The protocol, fixed before any run: for each cpu size, on replicate 0's training pairs, full mode with
`irl.full_blocks = BLOCKS` and the study's loss (max-margin), SEEDS seeds at each learning rate of
GRID for EPOCHS epochs; after every epoch, the share of training pairs ranked the right way and the
**val** AUC against the judge. The chosen rate is the one with the highest mean val AUC over seeds at
its best epoch, and that epoch is the chosen number of epochs (ties: the lower rate, fewer epochs). The
config holds one rate and one epoch count per profile: the profile's are those with the highest mean
over sizes of that mean val AUC.
Test texts are never scored. Also records the seconds per epoch, the cost that sets the profile's
seeds × epochs. Writes data/results/experiments/full_mode_recipe.json.
"""
import functools
import sys
import time

import numpy as np

from irlkit import config, irl, models, parallel, store
from irlkit.layout import experiment_scratch

BLOCKS = 2
GRID = (1e-5, 1e-4)
SEEDS = 1
EPOCHS = 2
LOSS = "max_margin"

from irlkit import stages  # noqa: E402


def recipe(size: str) -> dict:
    ctx = stages.Context(config.load("cpu", progress=False), 0)
    demos = stages.artifacts.demos(ctx, size)
    sets = stages.recovery.texts(ctx, demos)
    val_pool = irl.text_pool(demos, "val", ctx.cfg.irl.with_prompt)
    folder = ctx.start(size)
    backbone, tok = models.load_backbone(folder), models.load_tokenizer(folder)
    t0 = time.monotonic()
    cached = {name: irl.block_inputs(backbone, tok, sets[name], blocks=BLOCKS, max_length=ctx.cfg.irl.max_length)
              for name in ("train_expert", "train_start", "val_pool")}
    cache_seconds = time.monotonic() - t0
    runs = []
    for lr in GRID:
        for seed in range(SEEDS):
            t0 = time.monotonic()
            _, history = irl.train_top_blocks(
                backbone, cached["train_expert"], cached["train_start"], blocks=BLOCKS, loss=LOSS, seed=seed,
                epochs=EPOCHS, lr=lr, head_lr=ctx.cfg.irl.full_head_lr, batch_size=ctx.cfg.irl.batch_size,
                on_epoch=lambda epoch, m: stages.recovery.val_metrics(m.score(cached["val_pool"]), val_pool), desc=size)
            runs.append({"learning_rate": lr, "seed": seed, "seconds_per_epoch": (time.monotonic() - t0) / EPOCHS,
                         "history": history})
    return {"n_train_pairs": len(cached["train_expert"]), "cache_seconds": cache_seconds, "runs": runs}


def choose(runs: list[dict]) -> dict:
    table = {}
    for lr in GRID:
        per_seed = [r["history"] for r in runs if r["learning_rate"] == lr]
        table[lr] = [float(np.mean([h[e]["val_auc"] for h in per_seed])) for e in range(EPOCHS)]
    lr, epoch = max(((lr, e) for lr in GRID for e in range(EPOCHS)), key=lambda c: (table[c[0]][c[1]], -c[0], -c[1]))
    return {"mean_val_auc_by_epoch": {f"{k:g}": v for k, v in table.items()}, "chosen_learning_rate": lr,
            "chosen_epochs": epoch + 1, "chosen_mean_val_auc": table[lr][epoch]}


SCRATCH = experiment_scratch("full_mode_recipe")


def _job(size: str) -> None:
    store.atomic_write_json(SCRATCH / f"{size}.json", recipe(size))


def choose_for_profile(sizes: dict) -> dict:
    """The (rate, epochs) with the highest mean over sizes of the mean val AUC over seeds."""
    candidates = [(lr, e) for lr in GRID for e in range(EPOCHS)]
    mean = {c: float(np.mean([s["mean_val_auc_by_epoch"][f"{c[0]:g}"][c[1]] for s in sizes.values()])) for c in candidates}
    lr, epoch = max(candidates, key=lambda c: (mean[c], -c[0], -c[1]))
    return {"learning_rate": lr, "epochs": epoch + 1, "mean_val_auc_over_sizes": mean[(lr, epoch)],
            "table": [{"learning_rate": c[0], "epochs": c[1] + 1, "mean_val_auc_over_sizes": v} for c, v in mean.items()]}


if __name__ == "__main__":  # --choose-only: recompute the choice from the finished runs in the scratch folder
    cfg = config.load("cpu", progress=False)
    sizes = [s.name for s in cfg.sizes]
    SCRATCH.mkdir(parents=True, exist_ok=True)
    if "--choose-only" not in sys.argv:
        parallel.run([(size, functools.partial(_job, size)) for size in sizes], workers=cfg.workers, threads=cfg.threads,
                     log=print, log_file=lambda name: SCRATCH / f"{name}.log")
    result = {"protocol": __doc__.split("\n\n")[1], "blocks": BLOCKS, "loss": LOSS, "grid": list(GRID),
              "seeds": SEEDS, "epochs": EPOCHS, "sizes": {}}
    for size in sizes:
        r = store.read_json(SCRATCH / f"{size}.json")
        result["sizes"][size] = {**r, **choose(r["runs"])}
        print(size, {k: v for k, v in result["sizes"][size].items() if k != "runs"})
    result["profile"] = choose_for_profile(result["sizes"])
    print("profile:", {k: v for k, v in result["profile"].items() if k != "table"})
    print(store.write_experiment("full_mode_recipe", result, cfg))
