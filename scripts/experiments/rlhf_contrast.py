"""Does a different RLHF recipe give IRL more to recover? One size through 01 → 02 → 03 (probe mode) →
04 with the size's `rlhf` overrides replaced, in a scratch data folder that borrows the main cpu run's
assets and start-policy texts (read only).

    .venv/bin/python scripts/experiments/rlhf_contrast.py smollm2-135m prompts_per_step=12
    .venv/bin/python scripts/experiments/rlhf_contrast.py smollm2-135m steps=72 learning_rate=2e-5

Prints and writes data/results/experiments/contrast-<size>-<settings>.json: toxicity ratio start →
RLHF on the test prompts (paired p-value), perplexity, how often the judge prefers the expert in the
test pairs, and each probe loss's test ROC-AUC against the judge (mean ± sd over seeds)."""
import dataclasses
import json
import os
import sys

from irlkit import config, layout, store

size, settings = sys.argv[1], dict(kv.split("=") for kv in sys.argv[2:])
name = "-".join(["contrast", size, *(f"{k}{v}" for k, v in settings.items())])
main, scratch = layout.Layout("cpu"), layout.experiment_scratch(name)
main.link_into(scratch, [main.texts(f"{size}-start"), main.perplexity(f"{size}-start")])
os.environ["IRLKIT_DATA"] = str(scratch)

from irlkit import stages  # noqa: E402  (after IRLKIT_DATA is set)

cfg = config.load("cpu", progress=False, workers=1, irl={"modes": ("probe",)})  # one size: nothing to run beside
spec = cfg.size(size)
overrides = {**dict(spec.rlhf), **{k: type(getattr(cfg.rlhf, k))(v) for k, v in settings.items()}}
cfg = dataclasses.replace(cfg, sizes=(dataclasses.replace(spec, rlhf=tuple(overrides.items())),))
ctx = stages.Context(cfg)
rlhf_result = stages.alignment.run(ctx)[size]
sampling = stages.demonstrations.run(ctx)[size]
stages.recovery.run(ctx)
irl_result = stages.evaluation.run(ctx)
models = irl_result[size]["models"]
out = {"size": size, "rlhf": rlhf_result["settings"], "wall_seconds": rlhf_result["wall_seconds"],
       "toxblock_ratio": [rlhf_result["judge"]["before"]["ratio"], rlhf_result["judge"]["after"]["ratio"]],
       "p_value": rlhf_result["judge"]["paired"]["ratio_diff"]["p_value"],
       "perplexity": rlhf_result["perplexity"],
       "judge_prefers_expert_test": sampling["splits"]["test"]["judge_prefers_expert"],
       "test_auc": {name: {k: m["metrics"]["auc"][k] for k in ("mean", "sd")} for name, m in models.items()},
       "implicit_test_auc": {k: v["auc"] for k, v in irl_result[size]["implicit"].items()}}
print(json.dumps(out, indent=2))
os.environ["IRLKIT_DATA"] = str(main.runs.parents[1])
store.write_experiment(name, out, cfg)
