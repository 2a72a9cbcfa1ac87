"""Prompts an auditor would choose: sampled demonstrations on the prompts where RLHF moved the policy most, on val.

    .venv/bin/python scripts/experiments/auditor_prompts.py          # after train_samples.py --samples 0 4 (its texts)

An auditor holds both policies and no judge. Where RLHF moved the policy most is where its goal shows: per train
prompt x, the KL of the RLHF policy to the start, estimated from the RLHF policy's own `k` = 4 sampled continuations
(mean of log π_RLHF(y|x) − log π_start(y|x), bf16 log-probabilities; no judge score is read). At one budget of
training pairs (one per train prompt, 660 in the cpu profile), three ways to spend it:

- `greedy`: one greedy pair per train prompt (the profiles' demonstrations);
- `moved`: the `k` sampled pairs of each of the 1/k of train prompts with the largest KL (chosen by the auditor);
- `random_prompts`: the `k` sampled pairs of as many train prompts drawn at random (the control for the choice).

For each, the probe IRL of the cpu profile (every loss of `irl.losses`, `irl.probe_seeds` seeds; loss and seed kept
label-free on the val demonstration pairs, as 03 keeps them), scored against the judge on the **val** texts (which
are the same greedy texts in every variant): AUC on model-written texts and pooled, with 95% intervals over 1,000
resamples of the val prompts, each variant minus `greedy` paired. Reads the sweep cell's RLHF policies and 02–03
stages (data/runs/cpu/levels/<level>/r<k>/) and `train_samples.py`'s sampled texts and features
(data/runs/experiments/train_samples/), read only, by path. Writes data/results/experiments/auditor_prompts_<level>_r<k>.json.
The test split is not read.
"""
import argparse
import os
import time

import numpy as np
import pandas as pd

from irlkit import implicit, irl, layout, metrics, models, store
from irlkit.stages import context, graph


def demos_and_features(where: layout.Layout, size: str) -> tuple[pd.DataFrame, dict]:
    import datasets

    demos = datasets.load_from_disk(str(where.demos(size) / "dataset")).to_pandas()
    return demos, dict(np.load(where.features(size) / "features.npz"))


def kept_probe(cfg, train_e, train_s, val_e, val_s) -> tuple[str, irl.LinearProbe]:
    """03's label-free keep: the loss whose seeds order the val pairs best on average, then its best seed."""
    ic, best = cfg.irl, None
    for loss in ic.losses:
        probes, _ = irl.train_probes(train_e, train_s, loss=loss, seeds=[cfg.seed * 1000 + i for i in range(ic.probe_seeds)],
                                     epochs=ic.probe_epochs, lr=ic.probe_lr, batch_size=ic.batch_size,
                                     weight_decay=ic.probe_weight_decay)
        rows = [metrics.label_free(p(val_e), p(val_s)) for p in probes]
        mean = {k: float(np.mean([r[k] for r in rows])) for k in metrics.LABEL_FREE}
        if best is None or metrics.label_free_best([best[0], mean]) == 1:
            best = (mean, loss, probes[metrics.label_free_best(rows)])
    return best[1], best[2]


def val_scores(reward: np.ndarray, pool: pd.DataFrame, idx=None) -> dict:
    src, toxic = pool.source.values, metrics.is_toxic(pool.p_judge.values)
    if idx is not None:
        reward, src, toxic = reward[idx], src[idx], toxic[idx]
    return {"auc_model_text": metrics.auc(reward[src != "original"], toxic[src != "original"]),
            "auc": metrics.auc(reward, toxic)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", default="48x8-beta0.01")
    parser.add_argument("--replicate", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    cell = layout.Layout("cpu", args.replicate, args.level)
    os.environ["IRLKIT_DATA"] = str(layout.experiment_scratch("train_samples"))  # its layout: train_samples.py's stages
    sampled = layout.Layout("cpu", args.replicate, args.level)
    del os.environ["IRLKIT_DATA"]
    ctx = context.open("cpu", args.replicate, overrides={"level": args.level, "refinetune.enabled": False})
    cfg = ctx.cfg
    rng = np.random.default_rng(cfg.seed)
    out, kept = {}, {}
    for spec in cfg.sizes:
        size = spec.name
        greedy_demos, greedy_feats = demos_and_features(cell, size)
        k_demos, k_feats = demos_and_features(sampled, size)  # train_samples.py's k = 4 stages
        k = int(k_demos[k_demos.split == "train"]["sample"].max()) + 1
        train = k_demos[k_demos.split == "train"].reset_index(drop=True)

        # the auditor's choice: how far RLHF moved on each prompt, from its own samples (kept in the scratch folder,
        # so that a killed run resumes; the seconds are those of the run that computed them)
        policy = cell.policy(graph.policy_label(size, "true"))
        logp, kl_seconds = {}, 0.0
        for who, folder in (("rlhf", str(policy)), ("start", ctx.start(size))):
            cache = layout.experiment_scratch("auditor_prompts") / f"{args.level}_r{args.replicate}_{size}_{who}.npz"
            if not cache.exists():
                t0 = time.time()
                model, tok = models.load_scorer(folder, cfg.device, "bf16")
                values, _ = implicit.continuation_logprobs(model, tok, list(train.prompt), list(train.expert_text))
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cache.with_suffix(".tmp.npz"), logp=values, seconds=time.time() - t0)
                cache.with_suffix(".tmp.npz").rename(cache)
            z = np.load(cache)
            logp[who], kl_seconds = z["logp"], kl_seconds + float(z["seconds"])
            print(f"[auditor] {size} {who}: log-probabilities of {len(train)} sampled continuations", flush=True)
        per_prompt_kl = pd.Series(logp["rlhf"] - logp["start"]).groupby(train.prompt_id.values).mean()
        n_prompts = len(per_prompt_kl) // k
        chosen = {"moved": set(per_prompt_kl.sort_values(ascending=False).index[:n_prompts]),
                  "random_prompts": set(rng.choice(per_prompt_kl.index.values, n_prompts, replace=False))}

        pool = irl.text_pool(greedy_demos, "val", cfg.irl.with_prompt)
        src = pool.source.values
        val_e, val_s = greedy_feats["val_pool"][src == "expert"], greedy_feats["val_pool"][src == "start"]
        variants = {"greedy": (greedy_feats["train_expert"], greedy_feats["train_start"])}
        for name, prompts in chosen.items():
            rows = train.prompt_id.isin(prompts).values
            variants[name] = (k_feats["train_expert"][rows], k_feats["train_start"][rows])
        out[size] = {"samples_per_prompt": k, "chosen_prompts": n_prompts, "kl_scoring_seconds": kl_seconds,
                     "per_prompt_kl": {"mean": float(per_prompt_kl.mean()),
                                       "moved_mean": float(per_prompt_kl[list(chosen["moved"])].mean())}}
        for name, (e, s) in variants.items():
            loss, probe = kept_probe(cfg, e, s, val_e, val_s)
            reward = probe(greedy_feats["val_pool"])
            rows = train.prompt_id.isin(chosen[name]).values if name in chosen else None
            judge = {} if rows is None else {  # what the chosen pairs carry of the goal (evaluation only)
                "judge_prefers_expert": float(np.mean(train.expert_text_judge[rows] < train.start_text_judge[rows])),
                "mean_judge_gap": float(np.mean(train.start_text_judge[rows] - train.expert_text_judge[rows]))}
            out[size][name] = {"train_pairs": int(len(e)), "kept_loss": loss, "val": val_scores(reward, pool), **judge}
            kept[(size, name)] = (reward, pool)

    for size, entry in out.items():  # paired bootstrap over val prompts
        pool = kept[(size, "greedy")][1]
        prompts = pool.prompt_id.values
        codes = {p: i for i, p in enumerate(dict.fromkeys(prompts))}
        row_prompt = np.array([codes[p] for p in prompts])
        names = [n for n in ("greedy", "moved", "random_prompts")]
        draws = {n: [] for n in names}
        for _ in range(args.bootstrap):
            weight = np.bincount(rng.integers(0, len(codes), len(codes)), minlength=len(codes))
            idx = np.repeat(np.arange(len(prompts)), weight[row_prompt])
            for n in names:
                draws[n].append(val_scores(kept[(size, n)][0], pool, idx))
        for n in names:
            e = entry[n]
            e["val_ci"] = {m: [float(np.nanpercentile([d[m] for d in draws[n]], q)) for q in (2.5, 97.5)] for m in e["val"]}
            if n != "greedy":
                e["minus_greedy"] = {m: {"difference": e["val"][m] - entry["greedy"]["val"][m],
                                         "ci": [float(np.nanpercentile([a[m] - b[m] for a, b in zip(draws[n], draws["greedy"])], q))
                                                for q in (2.5, 97.5)]} for m in e["val"]}

    print(store.write_experiment(f"auditor_prompts_{args.level}_r{args.replicate}", {
        "level": args.level, "replicate": args.replicate, "split": "val (the test split is not read)",
        "rule": "the 1/k of train prompts with the largest KL of the RLHF policy to the start, from its own k samples",
        "val_prompts": int((ctx.prompts.split == "val").sum()), "sizes": out}, cfg))


if __name__ == "__main__":
    main()
