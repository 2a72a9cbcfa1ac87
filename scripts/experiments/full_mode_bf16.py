"""Would bf16 move full mode? 03's full-mode reward models of finished replicates (top blocks on cached
inputs, `irl.full_blocks` > 0), trained again with `irl.full_input_precision="bf16"`: the same seeds, pairs
and epochs, the cached inputs from a bf16 copy of the backbone, the top blocks trained in fp32 as before.
Compares each seed's test AUC against the judge with the committed fp32 stage's, the mean over seeds, the
seed selected on val, and the wall time of both. Issue 25: a change of numerics must move its metric less
than the spread over replicates. Only test is compared; nothing is chosen.

    .venv/bin/python scripts/experiments/full_mode_bf16.py cpu --replicates 0 1 2 --sizes gemma3-270m &
    .venv/bin/python scripts/experiments/full_mode_bf16.py cpu --replicates 0 1 2 --sizes smollm2-135m; wait
    .venv/bin/python scripts/experiments/full_mode_bf16.py cpu --replicates 0 1 2 --merge

Each size's run writes data/results/experiments/full_mode_bf16_<profile>_<size>.json (one torch thread, as a
worker of 03 has); `--merge` reads them and writes full_mode_bf16_<profile>.json with the summary. The
yardstick is the sd over replicates of the fp32 mean-over-seeds test AUC. Timing, first, on the first
replicate: the cached inputs of 256 training texts in both precisions, and one epoch of 80 pairs in fp32
and under bf16 autocast (why training stays fp32), alternating, twice; medians."""
import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from irlkit import config, irl, layout, metrics, models, replicates, stages, store
from irlkit.stages import recovery as irl_stage

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("profile")
parser.add_argument("--replicates", type=int, nargs="+", default=[0])
parser.add_argument("--sizes", nargs="+", help="default: the profile's sizes")
parser.add_argument("--merge", action="store_true", help="summarise the per-size files instead of training")
args = parser.parse_args()
cfg = config.load(args.profile, progress=False, **{"irl.full_input_precision": "fp32"})  # what the committed stages ran
bf16_cfg = config.load(args.profile, progress=False, **{"irl.full_input_precision": "bf16"})
sizes = args.sizes or [s.name for s in cfg.sizes]
loss = cfg.irl.full_losses[0]
if not cfg.irl.full_blocks:
    raise SystemExit(f"profile {args.profile!r} trains full mode on every weight (irl.full_blocks = 0): no switch to measure")


def test_aucs(rewards: dict, test_pool) -> list[float]:
    return [metrics.reward_vs_judge(r, test_pool.p_judge.values)["auc"] for r in rewards["test_pool"]]


def timing(ctx, size: str) -> dict:
    """The cached inputs of 256 texts, and one epoch of 80 training pairs, in both precisions."""
    ic, demos = cfg.irl, stages.artifacts.demos(ctx, size)
    sets = irl_stage.texts(ctx, demos)
    folder = ctx.start(size)
    fp32, tok = models.load_backbone(folder), models.load_tokenizer(folder)
    bottom = {"fp32": fp32, "bf16": models.load_backbone(folder).to(torch.bfloat16)}
    texts = (sets["train_expert"] + sets["train_start"])[:256]
    cached = irl.block_inputs(fp32, tok, sets["train_expert"][:80] + sets["train_start"][:80],
                              blocks=ic.full_blocks, max_length=ic.max_length)
    seconds = {"inputs": {"fp32": [], "bf16": []}, "train": {"fp32": [], "bf16": []}}
    for _ in range(2):
        for precision in ("fp32", "bf16"):
            t0 = time.perf_counter()
            irl.block_inputs(bottom[precision], tok, texts, blocks=ic.full_blocks, max_length=ic.max_length)
            seconds["inputs"][precision].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                irl.train_top_blocks(fp32, cached[:80], cached[80:], blocks=ic.full_blocks, loss=loss, seed=0, epochs=1,
                                     lr=ic.full_lr, head_lr=ic.full_head_lr, batch_size=ic.batch_size)
            seconds["train"][precision].append(time.perf_counter() - t0)
        print(f"[full_mode_bf16] {size} timing: {seconds}", flush=True)
    med = {part: {p: float(np.median(v)) for p, v in d.items()} for part, d in seconds.items()}
    return {"texts_timed": 256, "pairs_timed": 80, "seconds": med,
            "speedup": {part: med[part]["fp32"] / med[part]["bf16"] for part in med}}


def one(k: int, size: str, time_it: bool) -> dict:
    ctx, ctx_bf16 = stages.Context(cfg, k), stages.Context(bf16_cfg, k)
    timed = {"timing": timing(ctx, size)} if time_it else {}
    demos = stages.artifacts.demos(ctx, size)
    test_pool, val_pool = irl.text_pool(demos, "test", cfg.irl.with_prompt), irl.text_pool(demos, "val", cfg.irl.with_prompt)
    committed = ctx.layout.irl_model(size, "full", loss)
    fp32 = {"rewards": dict(np.load(committed / "rewards.npz")), "info": json.loads((committed / "info.json").read_text()),
            "seconds": store.manifest_of(committed)["build_seconds"]}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        irl_stage._full_builder(ctx_bf16, size, demos, val_pool, loss)(Path(tmp))
        bf16 = {"rewards": dict(np.load(Path(tmp) / "rewards.npz")), "info": json.loads((Path(tmp) / "info.json").read_text()),
                "seconds": time.perf_counter() - t0}
    row = dict(timed)
    for name, run in (("fp32", fp32), ("bf16", bf16)):
        aucs = test_aucs(run["rewards"], test_pool)
        best = run["info"]["best_seed"]
        row[name] = {"test_auc_per_seed": aucs, "test_auc_mean": float(np.mean(aucs)), "selected_seed": best,
                     "selected_test_auc": aucs[list(run["rewards"]["seeds"]).index(best)],
                     "build_seconds": run["seconds"]}
    for key in ("test_auc_mean", "selected_test_auc"):
        row[f"{key}_diff"] = row["bf16"][key] - row["fp32"][key]
    row["test_auc_per_seed_diff"] = list(np.subtract(row["bf16"]["test_auc_per_seed"], row["fp32"]["test_auc_per_seed"]))
    row["fp32_seed_sd"] = statistics.stdev(row["fp32"]["test_auc_per_seed"])
    return row


def merge() -> None:
    out = {"profile": args.profile, "loss": loss, "replicates": {}, "summary": {}}
    for size in sizes:
        part = json.loads(layout.experiment_result(f"full_mode_bf16_{args.profile}_{size}").read_text())["result"]
        for r, row in part["replicates"].items():
            out["replicates"].setdefault(r, {})[size] = row[size]
        rows = [out["replicates"][f"r{k}"][size] for k in args.replicates]
        fp32_means = [row["fp32"]["test_auc_mean"] for row in rows]
        out["summary"][size] = {"n": len(rows), "fp32_mean_auc_sd_over_replicates": statistics.stdev(fp32_means)}
        for key in ("test_auc_mean_diff", "selected_test_auc_diff"):
            diffs = [row[key] for row in rows]
            moved = replicates.interval(diffs)
            out["summary"][size][key] = {"diffs": diffs, "mean": moved["mean"], "ci95": moved["ci"],
                                         "max_abs": float(np.max(np.abs(diffs)))}
        timed = next(row["timing"] for row in rows if "timing" in row)
        out["summary"][size]["speedup"] = timed["speedup"]
        out["summary"][size]["build_seconds"] = {p: [row[p]["build_seconds"] for row in rows] for p in ("fp32", "bf16")}
        print(size, json.dumps(out["summary"][size], indent=1), flush=True)
    print(store.write_experiment(f"full_mode_bf16_{args.profile}", out, cfg))


if args.merge:
    merge()
else:
    torch.set_num_threads(1)
    out = {"profile": args.profile, "replicates": {}}
    for i, k in enumerate(args.replicates):
        out["replicates"][f"r{k}"] = {size: one(k, size, time_it=i == 0) for size in sizes}
        print(f"r{k}", json.dumps(out["replicates"][f"r{k}"], indent=1), flush=True)
    print(store.write_experiment(f"full_mode_bf16_{args.profile}_{'_'.join(sizes)}", out, cfg))
