"""Where a replicate's time went: every stage it built, summed by what the stage is for.

    .venv/bin/python scripts/experiments/replicate_cost.py --profile cpu --replicates 0 1 --name replicate_cost_cpu

Reads the `build_seconds` of every stage folder under `data/runs/<profile>/r<k>/` (and the profile's `shared/`
stages, built once for all replicates) and sums them by part: 01's RLHF policies, 02–04 (demonstrations, their
log-probabilities and KL, the IRL fits, 04's texts and perplexity), and 05's re-alignment split into its RLOO runs
with their toxicity–KL path (`policies/`, or a committed record's `summary.wall_seconds + path_seconds` where the
weights were pruned), its greedy test texts and perplexity, and its sampled endpoint (`texts/*-evaluation-x4`).
Seconds are a worker's: stages run side by side in `workers` processes, so a replicate's wall time is about
their sum over `workers`. Only replicates of one code hash are summed (a stage's manifest holds none, so the
replicate's `manifest.json` is read; pass only finished replicates). Writes data/results/experiments/<name>.json.
"""
import argparse
import collections
import json
import statistics

from irlkit import config, layout, store

ENDPOINT_SUFFIX = "-evaluation-x4"


def part(stage: str, label: str, sizes: list[str]) -> str:
    """What a stage folder is for, from its stage and label (`<size>-<arm>[-seed<k>]`, `<size>`)."""
    arm = next((label[len(s) + 1:] for s in sizes if label.startswith(s + "-")), "")
    if stage == "policies":
        return "01 RLHF policy" if arm == "rlhf" else "05 RLOO runs with their path"
    if stage in ("texts", "perplexity") and arm not in ("rlhf", "start", "rlhf" + ENDPOINT_SUFFIX,
                                                        "start" + ENDPOINT_SUFFIX):
        return "05 sampled endpoint" if label.endswith(ENDPOINT_SUFFIX) else "05 greedy texts and perplexity"
    if label.endswith(ENDPOINT_SUFFIX):
        return "05 sampled endpoint"  # the start's and the RLHF policy's: 05 reads them only
    if stage == "path_start":
        return "05 RLOO runs with their path"
    return "02-04 demonstrations, IRL and evaluation"


def stages(root) -> list[tuple[str, str, float]]:
    """(stage, label, build_seconds) of every finished stage folder under `root` (one level of labels; the IRL
    fits are one level deeper)."""
    out = []
    for manifest in sorted(root.glob("*/*/manifest.json")) + sorted(root.glob("irl/*/*/manifest.json")):
        label_dir = manifest.parent
        stage = label_dir.relative_to(root).parts[0]
        label = label_dir.relative_to(root / stage).parts[0]
        out.append((stage, label, json.loads(manifest.read_text()).get("build_seconds", 0.0)))
    return out


def replicate_cost(profile: str, k: int, sizes: list[str]) -> dict:
    lay = layout.Layout(profile, k)
    manifest = json.loads(lay.manifest.read_text())
    seconds = collections.defaultdict(float)
    runs = collections.defaultdict(list)  # per size, one RLOO run of 05's: seconds
    built = set()
    for stage, label, s in stages(lay.runs):
        seconds[part(stage, label, sizes)] += s
        if stage == "policies":
            built.add(label)
            if part(stage, label, sizes) == "05 RLOO runs with their path":
                runs[next(z for z in sizes if label.startswith(z))].append(s)
    for record in sorted((lay.results / "realignment").glob("*.json")):
        r = json.loads(record.read_text())
        if "summary" not in r or r["policy"] in built:  # the start's record, or weights still there
            continue
        s = r["summary"]["wall_seconds"] + r["summary"].get("path_seconds", 0.0)  # weights pruned: the record's
        if r["arm"] == "true" and r["run"] == 0:  # 01's policy, which 05 reuses
            seconds["01 RLHF policy"] += s
        else:
            seconds["05 RLOO runs with their path"] += s
            runs[r["size"]].append(s)
    return {"code_hash": manifest["code_hash"], "config_hash": manifest["config_hash"], "cpu": manifest["cpu"],
            "workers": manifest["workers"], "seconds": dict(seconds), "total_seconds": sum(seconds.values()),
            "rloo_runs": {size: {"n": len(v), "median_seconds": statistics.median(v)} for size, v in runs.items()}}


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--profile", default="cpu")
parser.add_argument("--replicates", type=int, nargs="+", required=True)
parser.add_argument("--name", required=True, help="the result's name under data/results/experiments/")
args = parser.parse_args()
cfg = config.load(args.profile)
sizes = [spec.name for spec in cfg.sizes]
result = {f"r{k}": replicate_cost(args.profile, k, sizes) for k in args.replicates}
hashes = {r["code_hash"] for r in result.values()}
if len(hashes) > 1:
    raise SystemExit(f"the replicates ran on different code ({sorted(hashes)}): pass replicates of one code")
shared = collections.defaultdict(float)
for stage, label, s in stages(layout.Layout(args.profile, 0).shared):
    shared[part(stage, label, sizes)] += s
result["shared"] = dict(shared)
print(json.dumps(result, indent=1))
print(store.write_experiment(args.name, result, cfg))
