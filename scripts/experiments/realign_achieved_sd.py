"""The run-to-run spread that 05's final replicates achieved, against what the power runs predicted.

    .venv/bin/python scripts/experiments/realign_achieved_sd.py --name realign_achieved_sd_cpu

`realign_power.py` predicted, from four runs of the true arm on the val prompts, the sd of one RLOO run's endpoint
(relative change of mean P(toxic) of sampled continuations from the start's) at the final 1,124 evaluation prompts,
and from it the runs per arm for 80% power at a 0.1 relative difference (docs/experiments/realign_power.md). This
reads the committed `refinetune.json` of the profile's final replicates (one code) and gives, per size, judge and
arm (true, IRL, flipped):

- each run's relative change (`endpoint.<judge>.run_means` over `start_mean`, minus 1);
- `sd_within`: the sd of runs of one replicate, pooled over replicates (where an arm has two or more runs a
  replicate; the IRL and flipped arms train on a different reward in each replicate, so only this one is theirs);
- `sd_all`: the sd of every run of every replicate (the true arm's reward is the same judge in every replicate,
  so this is its run-to-run sd too; with one run a replicate, the only one);
- `power_at_0.1`: the power of a two-sided 5% test of IRL − true at a 0.1 relative difference with the runs per
  arm over all replicates and the true arm's sd (`sd_within` where there is one), the arms taken to spread alike.

Reads only committed results. Writes data/results/experiments/<name>.json.
"""
import argparse
import math
import statistics

from scipy import stats

from irlkit import config, layout, replicates, store

PREDICTED = {("smollm2-135m", "judge"): 0.110, ("smollm2-135m", "second"): 0.083, ("gemma3-270m", "judge"): 0.020,
             ("gemma3-270m", "second"): 0.013}
"""realign_power_24x4.json's predicted sd at 1,124 prompts (docs/experiments/realign_power.md)."""

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--profile", default="cpu")
parser.add_argument("--name", required=True, help="the result's name under data/results/experiments/")
args = parser.parse_args()
cfg = config.load(args.profile)
runs, left_out = replicates.collect(layout.Layout(args.profile), cfg)
if not runs:
    raise SystemExit(f"no replicates of one code in {layout.Layout(args.profile).replicates} ({left_out})")
result = {"replicates": [f"r{k}" for k in runs], "code_hash": next(iter(runs.values()))["manifest"]["code_hash"],
          "sizes": {}}
for spec in cfg.sizes:
    out = {}
    for judge in ("judge", "second"):
        for arm in ("true", "irl", "flipped"):
            changes = []  # per replicate: each run's relative change
            for run in runs.values():
                e = run["refinetune"]["sizes"][spec.name][arm]["endpoint"][judge]
                changes.append([m / e["start_mean"] - 1 for m in e["run_means"]])
            multi = [c for c in changes if len(c) > 1]
            sd_within = (math.sqrt(sum(statistics.variance(c) * (len(c) - 1) for c in multi)
                                   / sum(len(c) - 1 for c in multi)) if multi else None)
            every = [x for c in changes for x in c]
            out[f"{arm}/{judge}"] = {"runs": changes, "sd_within": sd_within,
                                     "sd_all": statistics.stdev(every) if len(every) > 1 else None, "n_runs": len(every)}
        true = out[f"true/{judge}"]
        sd = true["sd_within"] or true["sd_all"]
        n = true["n_runs"]
        out[f"true/{judge}"].update(
            predicted_sd=PREDICTED.get((spec.name, judge)),
            power_at_0_1=float(stats.norm.cdf(0.1 / (sd * math.sqrt(2 / n)) - stats.norm.ppf(0.975))) if sd else None)
    result["sizes"][spec.name] = out
    for key, v in out.items():
        print(f"{spec.name} {key}: sd within {v['sd_within']}, sd all {v['sd_all']}, n {v['n_runs']}"
              + (f", predicted {v['predicted_sd']}, power {v['power_at_0_1']:.2f}" if "predicted_sd" in v else ""))
print(store.write_experiment(args.name, result, cfg))
