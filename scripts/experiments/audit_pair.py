"""`irlkit.recover` on a real pair: a sweep cell's RLHF policy against its start, as an auditor without a judge would run it.

    .venv/bin/python scripts/experiments/audit_pair.py --level 48x8-beta0.01 --replicate 0 --size smollm2-135m

The audit's prompts are the cell's development test prompts (the sealed set is not read), continued
`--samples-per-prompt` times by each policy; everything else is `recover`'s defaults, label-free. The ground-truth
judge evaluates the kept reward afterwards. Writes data/results/experiments/audit_<size>_<level>_r<k>.json: the
settings, the label-free diagnostics and the evaluation (no weights; the reward folder goes to a scratch folder).
"""
import argparse
import shutil

from irlkit import config, data, layout, models, store
from irlkit.audit import recover
from irlkit.stages import graph

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--level", default="48x8-beta0.01")
parser.add_argument("--replicate", type=int, default=0)
parser.add_argument("--size", default="smollm2-135m")
parser.add_argument("--samples-per-prompt", type=int, default=4)
args = parser.parse_args()

cfg = config.load("cpu", level=args.level)
where = layout.Layout("cpu", args.replicate, args.level)
policy = where.policy(graph.policy_label(args.size, "true"))
reference = models.materialise(cfg.size(args.size).start)
prompts = list(data.split_of(data.load_prompts(cfg), "test").prompt)
audit = recover(str(policy), reference, prompts, samples_per_prompt=args.samples_per_prompt, judge=cfg.judge)
scratch = layout.experiment_scratch("audit_pair") / f"{args.size}_{args.level}_r{args.replicate}"
shutil.rmtree(scratch, ignore_errors=True)
audit.save(scratch)
print(audit.summary())
name = f"audit_{args.size}_{args.level}_r{args.replicate}"
print(store.write_experiment(name, {"policy": str(policy.relative_to(layout.data_dir())), "reference": cfg.size(args.size).start,
                                    "prompts": f"the {len(prompts)} development test prompts of cpu", "settings": audit.settings,
                                    "diagnostics": audit.diagnostics, "evaluation": audit.evaluation}, cfg))
