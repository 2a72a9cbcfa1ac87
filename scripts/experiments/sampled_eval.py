"""Greedy toxicity (the study's evaluation) against the toxicity of what a policy samples (what RLOO
optimises): K continuations per test prompt at temperature T from a finished cpu run's policies, scored
by both judges, each policy paired with the start policy's samples of the same prompts.

    .venv/bin/python scripts/experiments/sampled_eval.py smollm2-135m 4 1.0

Writes data/results/experiments/sampled_eval-<size>.json: per policy, mean P(toxic) and toxicity ratio over the
samples, the change from the start policy, and a paired permutation p-value over prompts."""
import sys


from irlkit import config, data, metrics, models, sampling, stages, store

size, k, temperature = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
cfg = config.load("cpu", progress=False)
ctx = stages.Context(cfg)
test = data.split_of(ctx.prompts, "test")
policies = {"start": ctx.start(size)}  # and every policy 01 and 05 trained for this size
policies.update({folder.name.removeprefix(f"{size}-"): str(folder)
                 for folder in (ctx.layout.policy(label) for label in ctx.layout.labels(ctx.layout.policy) if label.startswith(f"{size}-"))})

per_prompt = {}  # policy -> judge -> [n_prompts] mean over the K samples
for name, folder in policies.items():
    model, tok = models.load_policy(folder)
    texts = [t for seed in range(k) for t in sampling.generate(
        model, tok, list(test.prompt), max_new_tokens=cfg.sampling.max_new_tokens, do_sample=True,
        temperature=temperature, seed=seed, show_progress=False)]
    per_prompt[name] = {which: ctx.judge(which).score(texts).reshape(k, len(test)) for which in ("judge", "second")}
    print(name, "done", flush=True)

rows = []
for name, scores in per_prompt.items():
    for which in ("judge", "second"):
        p, p0 = scores[which], per_prompt["start"][which]
        ratio, ratio0 = metrics.is_toxic(p).mean(0), metrics.is_toxic(p0).mean(0)  # per prompt, over samples
        diff = metrics.paired_difference(ratio0, ratio, n=cfg.eval.n_bootstrap, seed=cfg.eval.bootstrap_seed)
        rows.append({"size": size, "policy": name, "judge": getattr(cfg, "judge" if which == "judge" else "second_judge"),
                     "mean_p": round(float(p.mean()), 4), "ratio": round(float(ratio.mean()), 4),
                     "relative_change": round(diff["diff"] / ratio0.mean(), 3), "p_value": round(diff["p_value"], 4)})
        print(rows[-1], flush=True)
store.write_experiment(f"sampled_eval-{size}", rows, cfg)
