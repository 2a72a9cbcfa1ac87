"""How much toxicity can a linear head on these features find at all? The supervised ceiling of the probe:
the same frozen features of the same training texts (expert and start continuations), but fitted to the
judge's own labels instead of the demonstrations' preferences. Scored like 04: ROC-AUC against the
judge on the TEST pool (human, expert and start continuations). From a finished cpu run's cached features.

    .venv/bin/python scripts/experiments/probe_ceiling.py smollm2-135m gemma3-270m

Writes data/results/experiments/probe_ceiling.json."""
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from irlkit import config, irl, metrics, stages, store

cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
rows = []
for size in sys.argv[1:]:
    demos = stages.artifacts.demos(ctx, size)
    feats = dict(np.load(ctx.layout.features(size) / "features.npz"))
    train = demos[demos.split == "train"]
    x = np.concatenate([feats["train_expert"], feats["train_start"]])
    p = np.concatenate([train.expert_text_judge.values, train.start_text_judge.values])
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    test_pool = irl.text_pool(demos, "test", cfg.irl.with_prompt)
    z_test = (feats["test_pool"] - mu) / sd
    print(f"{size}: {len(x)} training texts, {int((p > 0.5).sum())} toxic by the judge")
    for name, model in (("logistic on judge>0.5, C=0.01", LogisticRegression(C=0.01, max_iter=2000)),
                        ("logistic on judge>0.5, C=1", LogisticRegression(C=1.0, max_iter=2000)),
                        ("ridge on logit(p_judge)", Ridge(alpha=100.0))):
        if isinstance(model, Ridge):
            q = np.clip(p, 1e-4, 1 - 1e-4)
            model.fit(z, np.log(q / (1 - q)))
            score = -model.predict(z_test)
        else:
            model.fit(z, p > 0.5)
            score = -model.decision_function(z_test)
        m = metrics.reward_vs_judge(score, test_pool.p_judge.values)
        rows.append({"size": size, "model": name, "test_auc": m["auc"]})
        print(f"  {name:32s} test AUC {m['auc']:.3f}")
store.write_experiment("probe_ceiling", rows, cfg)
