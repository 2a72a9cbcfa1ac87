"""One size's RLHF recipe tried on its own: the true-judge policy and the random-reward control, with
the size's `rlhf` overrides replaced, in a scratch data folder that borrows the main cpu run's assets,
start-policy texts, demonstrations and probes (read only).

    .venv/bin/python scripts/experiments/rlhf_settings.py gemma3-270m learning_rate=1e-5 beta=0.05
    .venv/bin/python scripts/experiments/rlhf_settings.py smollm2-135m seed=1   # another RLOO seed and random head

Prints and writes data/results/experiments/settings-<size>-<settings>.json: ToxBlock and profanity-check
toxicity ratio start → policy on the test prompts (paired p-value) and perplexity, for both rewards.
`seed=N` is not an `rlhf` setting: it reseeds RLOO and draws the random reward's head with
`refinetune.random_seed + N`; the start policy's (greedy) texts stay those of the main run."""
import dataclasses
import json
import os
import sys

from irlkit import config, layout, store

size, settings = sys.argv[1], dict(kv.split("=") for kv in sys.argv[2:])
seed = int(settings.pop("seed", 0))
name = "-".join(["settings", size, *(f"{k}{v}" for k, v in settings.items()), *([f"seed{seed}"] if seed else [])])
main, scratch = layout.Layout("cpu"), layout.experiment_scratch(name)
main.link_into(scratch, [main.demos(size), main.irl(size), main.texts(f"{size}-start"), main.perplexity(f"{size}-start")])
os.environ["IRLKIT_DATA"] = str(scratch)

from irlkit import stages  # noqa: E402  (after IRLKIT_DATA is set)

cfg = config.load("cpu", threads=int(os.environ.get("THREADS", 2)), progress=False)
spec = cfg.size(size)
overrides = {**dict(spec.rlhf), **{k: type(getattr(cfg.rlhf, k))(v) for k, v in settings.items()}}
cfg = dataclasses.replace(cfg, sizes=(dataclasses.replace(spec, rlhf=tuple(overrides.items())),))
ctx = stages.Context(cfg)
start = ctx.start(size)
start_texts = stages.policies.policy_texts(ctx, f"{size}-start", start)
start_perplexity = stages.policies.perplexity_of(ctx, f"{size}-start", start)
if seed:  # everything from here on trains and samples under the new seed
    cfg = dataclasses.replace(cfg, seed=seed, refinetune=dataclasses.replace(
        cfg.refinetune, random_seed=cfg.refinetune.random_seed + seed))
    ctx = stages.Context(cfg)
test = lambda df: df[df.split == "test"]  # noqa: E731
out = {"size": size, "rlhf": dataclasses.asdict(cfg.rlhf_for(size)),
       "seed": seed, "start_perplexity": start_perplexity}
for name in ("true", "random"):
    label, policy, summary, _ = stages.realignment.policy(ctx, size, name, 0, {})
    texts = stages.policies.policy_texts(ctx, label, policy, "all" if name == "true" else "test")
    report = stages.policies.toxicity_report(ctx, test(start_texts), test(texts))
    out[name] = {**summary, "perplexity": stages.policies.perplexity_of(ctx, label, policy),
                 **{which: {"ratio": [r["before"]["ratio"], r["after"]["ratio"]],
                            "p": r["paired"]["ratio_diff"]["p_value"]} for which, r in report.items()}}
    print(name, json.dumps(out[name]), flush=True)
os.environ["IRLKIT_DATA"] = str(main.runs.parents[1])
store.write_experiment(name, out, cfg)
