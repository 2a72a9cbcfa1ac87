"""Would bf16 features move the recovered reward? The probe's features of a finished replicate, computed
again with the backbone in bf16, and every probe loss retrained on them with the same seeds: the test
AUC of fp32 and bf16 side by side (mean over seeds, and the seed chosen on val), their rewards' rank
agreement, and the two passes' wall time on the same texts. Issue 25 asks for this before a bf16
switch: the move must be smaller than the spread over replicates (cpu: the sd of `irl_auc` over its
replicates in summary.json). Val picks the seed; test is what is compared.

    .venv/bin/python scripts/experiments/features_bf16.py ladder qwen2.5-coder-0.5b qwen2.5-coder-1.5b
    .venv/bin/python scripts/experiments/features_bf16.py cpu smollm2-135m gemma3-270m

Writes data/results/experiments/features_bf16_<profile>.json."""
import sys
import time

import numpy as np
import torch
from scipy import stats

from irlkit import config, irl, metrics, models, stages, store

profile, sizes = sys.argv[1], sys.argv[2:]
cfg = config.load(profile, progress=False)
ctx = stages.Context(cfg, 0)
ic = ctx.cfg.irl
out = {"profile": profile, "replicate": 0, "seeds": ic.probe_seeds, "sizes": {}}
for size in sizes:
    demos = stages.artifacts.demos(ctx, size)
    texts = stages.recovery.texts(ctx, demos)
    folder = ctx.start(size)
    tok = models.load_tokenizer(folder)
    backbone = models.load_backbone(folder)
    timing_texts = texts["test_pool"][:96]
    seconds = {"fp32": [], "bf16": []}
    for _ in range(2):  # the same texts in both precisions, alternating: medians
        for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            backbone.to(dtype)
            t0 = time.perf_counter()
            irl.features(backbone, tok, timing_texts, max_length=ic.max_length, pooling=ic.probe_pooling)
            seconds[precision].append(time.perf_counter() - t0)
    fp32, bf16 = {}, {}  # both computed here, whatever `irl.feature_precision` the stage ran with
    for feats, dtype in ((fp32, torch.float32), (bf16, torch.bfloat16)):
        backbone.to(dtype)
        for name in ("train_expert", "train_start", "val_pool", "test_pool"):
            print(f"[features_bf16] {size}: {name} ({len(texts[name])} texts) in {dtype}", flush=True)
            feats[name] = irl.features(backbone, tok, texts[name], max_length=ic.max_length, pooling=ic.probe_pooling)
    del backbone
    pools = {split: irl.text_pool(demos, split, ic.with_prompt) for split in ("val", "test")}
    cos = np.sum(fp32["test_pool"] * bf16["test_pool"], 1) / (
        np.linalg.norm(fp32["test_pool"], axis=1) * np.linalg.norm(bf16["test_pool"], axis=1))
    entry = {"texts_timed": len(timing_texts), "seconds": {k: float(np.median(v)) for k, v in seconds.items()},
             "speedup": float(np.median(seconds["fp32"]) / np.median(seconds["bf16"])),
             "feature_cosine_min": float(cos.min()), "feature_cosine_median": float(np.median(cos)), "losses": {}}
    for loss in irl.LOSSES:
        row = {}
        for precision, feats in (("fp32", fp32), ("bf16", bf16)):
            probes, _ = irl.train_probes(feats["train_expert"], feats["train_start"], loss=loss,
                                         seeds=list(range(ic.probe_seeds)), epochs=ic.probe_epochs, lr=ic.probe_lr,
                                         batch_size=ic.batch_size, weight_decay=ic.probe_weight_decay)
            scores = {split: [p(feats[f"{split}_pool"]) for p in probes] for split in pools}
            auc = {split: [metrics.reward_vs_judge(s, pools[split].p_judge.values)["auc"] for s in scores[split]]
                   for split in pools}
            chosen = int(np.argmax(auc["val"]))
            row[precision] = {"test_auc_mean": float(np.mean(auc["test"])), "test_auc_chosen_on_val": auc["test"][chosen],
                              "chosen_seed": chosen, "test_scores": scores["test"]}
        a, b = row["fp32"], row["bf16"]
        entry["losses"][loss] = {
            **{p: {k: v for k, v in row[p].items() if k != "test_scores"} for p in row},
            "test_auc_mean_diff": b["test_auc_mean"] - a["test_auc_mean"],
            "test_auc_chosen_diff": b["test_auc_chosen_on_val"] - a["test_auc_chosen_on_val"],
            "same_seed_spearman_min": float(min(stats.spearmanr(x, y)[0] for x, y in zip(a["test_scores"], b["test_scores"])))}
        print(size, loss, {k: v for k, v in entry["losses"][loss].items() if k not in row}, flush=True)
    out["sizes"][size] = entry
    print(size, {k: v for k, v in entry.items() if k != "losses"}, flush=True)
store.write_experiment(f"features_bf16_{profile}", out, cfg)
