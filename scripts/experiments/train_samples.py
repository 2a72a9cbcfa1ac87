"""What IRL gains from sampled training demonstrations (`sampling.train_samples`), per minute of work, on val.

    .venv/bin/python scripts/experiments/train_samples.py --level 48x8-beta0.01 --replicate 0 --samples 0 4   # about 30 min

For one cell of the cpu profile's RLHF-strength sweep whose 01 has run (its RLHF policies are borrowed, read only),
02 and 03 run again in a scratch data folder (data/runs/experiments/train_samples/, git-ignored) once per value of
`sampling.train_samples`, probe mode only (full mode's cost grows with the pairs; the probe is the recovered reward
of the cpu profile). For each value: the reward the label-free criterion keeps (its loss by the mean over seeds,
then its seed: `metrics.LABEL_FREE` on the val demonstration pairs, which are the same greedy pairs whatever the
training pairs are), scored against the judge on the **val** texts only (model-written, pooled, each policy's), with
95% intervals over 1,000 resamples of the val prompts, paired across values (the val texts are the same); and the
build seconds of the stages that differ (two workers, one core each: a stage's seconds are about its CPU-seconds). Writes
data/results/experiments/train_samples_<level>_r<k>.json. The test split is not read.
"""
import argparse
import os
import sys

import numpy as np

from irlkit import layout, metrics, stages, store  # paths are read when used: IRLKIT_DATA set in main() counts
from irlkit.stages import artifacts, evaluation, graph


def built_seconds(ctx, size: str, k: int) -> dict:
    """Build seconds of the stages that differ with k (sampled texts, demos, features, probe models)."""
    folders = {"demos": graph.folder(ctx, "demos", size=size), "features": graph.folder(ctx, "features", size=size),
               **{f"probe_{loss}": graph.folder(ctx, "probe_model", size=size, loss=loss) for loss in ctx.cfg.irl.losses}}
    if k:
        label = graph.policy_label(size, "true")
        folders["sampled_texts_rlhf"] = graph.folder(ctx, "texts", label=label, prompts="train", samples=k)
        folders["sampled_texts_start"] = graph.folder(ctx, "texts", label=f"{size}-start", prompts="train", shared=True,
                                                      samples=k)
    return {name: store.manifest_of(f)["build_seconds"] for name, f in folders.items()}


def kept_reward(ctx, size: str) -> tuple[str, int, np.ndarray]:
    """The label-free choice among probe losses and seeds, and its rewards on the val pool."""
    results = {}
    for loss in ctx.cfg.irl.losses:
        history, rewards = artifacts.reward_models(ctx, size, "probe", loss)
        final = [h.iloc[-1] for _, h in history.groupby("seed", sort=False)]
        results[loss] = (final, rewards)
    names = list(results)
    loss = names[metrics.label_free_best([{k: float(np.mean([row[k] for row in results[n][0]])) for k in metrics.LABEL_FREE}
                                          for n in names])]
    final, rewards = results[loss]
    i = metrics.label_free_best(final)
    return loss, int(rewards["seeds"][i]), rewards["val_pool"][i]


def val_scores(reward: np.ndarray, pool, idx: np.ndarray | None = None) -> dict:
    src, toxic = pool.source.values, metrics.is_toxic(pool.p_judge.values)
    if idx is not None:
        reward, src, toxic = reward[idx], src[idx], toxic[idx]
    auc = lambda m: metrics.auc(reward[m], toxic[m])  # noqa: E731
    return {"auc": auc(np.ones(len(src), bool)), "auc_model_text": auc(src != "original"),
            "auc_expert_text": auc(src == "expert"), "auc_start_text": auc(src == "start"),
            "pairwise_accuracy": metrics.pairwise_accuracy(reward[src == "expert"], reward[src == "start"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", default="48x8-beta0.01")
    parser.add_argument("--replicate", type=int, default=0)
    parser.add_argument("--samples", type=int, nargs="+", default=[0, 4])
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    NAME = f"train_samples_{args.level}_r{args.replicate}"
    main = layout.Layout("cpu", args.replicate, args.level)
    policies = main.policy("any").parent  # 01's RLHF policies of the cell, borrowed read only
    if not policies.exists():
        sys.exit(f"no RLHF policies in {policies}: run `python -m irlkit.runner cpu --level {args.level} "
                 f"--replicate {args.replicate} --only 01_rlhf` first")
    scratch = layout.experiment_scratch("train_samples")
    main.link_into(scratch, [policies])
    os.environ["IRLKIT_DATA"], os.environ["IRLKIT_FIGURES"] = str(scratch), str(scratch / "figures")

    overrides = {"refinetune.enabled": False, "irl.modes": ["probe"], "workers": 2}
    out, kept = {}, {}
    for k in args.samples:
        ctx = stages.open("cpu", args.replicate, overrides={**overrides, "level": args.level, "sampling.train_samples": k})
        stages.demonstrations.run(ctx)
        stages.recovery.run(ctx)
        sampling = store.read_json(ctx.layout.result("sampling"))["sizes"]
        for spec in ctx.cfg.sizes:
            pool = evaluation.pools(artifacts.demos(ctx, spec.name), ctx.cfg)["val_pool"]
            loss, seed, reward = kept_reward(ctx, spec.name)
            kept[(spec.name, k)] = (reward, pool)
            train = sampling[spec.name]["splits"]["train"]
            out.setdefault(spec.name, {})[f"k{k}"] = {
                "train_pairs": train["n"], "judge_prefers_expert_train": train["judge_prefers_expert"],
                "mean_judge_gap_train": train["mean_judge_gap"], "ties_train": train["ties"],
                "kept": {"mode": "probe", "loss": loss, "seed": seed}, "val": val_scores(reward, pool),
                "build_seconds": built_seconds(ctx, spec.name, k)}

    rng = np.random.default_rng(0)
    for size, by_k in out.items():
        pool = kept[(size, args.samples[0])][1]
        prompts = pool.prompt_id.values
        codes = {p: i for i, p in enumerate(dict.fromkeys(prompts))}
        row_prompt = np.array([codes[p] for p in prompts])
        draws = {k: [] for k in args.samples}
        for _ in range(args.bootstrap):
            weight = np.bincount(rng.integers(0, len(codes), len(codes)), minlength=len(codes))
            idx = np.repeat(np.arange(len(prompts)), weight[row_prompt])
            for k in args.samples:
                draws[k].append(val_scores(kept[(size, k)][0], pool, idx))
        base = args.samples[0]
        for k in args.samples:
            entry = by_k[f"k{k}"]
            entry["val_ci"] = {m: [float(np.nanpercentile([d[m] for d in draws[k]], q)) for q in (2.5, 97.5)]
                               for m in entry["val"]}
            if k != base:
                diff = {m: np.array([a[m] - b[m] for a, b in zip(draws[k], draws[base])]) for m in entry["val"]}
                entry[f"minus_k{base}"] = {m: {"difference": entry["val"][m] - by_k[f"k{base}"]["val"][m],
                                               "ci": [float(np.nanpercentile(d, 2.5)), float(np.nanpercentile(d, 97.5))]}
                                           for m, d in diff.items()}
                extra = sum(entry["build_seconds"].values()) - sum(by_k[f"k{base}"]["build_seconds"].values())
                entry["extra_stage_minutes"] = extra / 60  # build minutes of the stages that differ, each on its worker's core
                entry["auc_model_text_gain_per_stage_minute"] = entry[f"minus_k{base}"]["auc_model_text"]["difference"] / max(extra / 60, 1e-9)

    for name in ("IRLKIT_DATA", "IRLKIT_FIGURES"):  # the result goes to the checkout's folders
        os.environ.pop(name)
    print(store.write_experiment(NAME, {"level": args.level, "replicate": args.replicate, "samples": args.samples,
                                        "overrides": overrides, "split": "val (the test split is not read)",
                                        "sizes": out}, ctx.cfg))


if __name__ == "__main__":  # the workers of 03 import this file again: only the parent runs the experiment
    main()
