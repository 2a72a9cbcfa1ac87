"""Whole pipelines end to end on this machine, one after the other: the speed target's measurement.

    .venv/bin/python benchmarks/end_to_end.py                              # 6968d2b's pipeline, then one replicate of HEAD
    .venv/bin/python benchmarks/end_to_end.py --commits 6968d2b HEAD --replicate 1 --repeats 2
    .venv/bin/python benchmarks/end_to_end.py --commits 6968d2b --include 784f3ee=/work/final  # + a finished run

Each commit runs in its own clone of this repository (`layout.experiment_scratch("end_to_end")/<commit>`), with this
checkout's assets (data/raw, data/models) and .venv linked in and an otherwise empty data folder, so work
shared by replicates is counted in the replicate that does it first. The environment is the one
scripts/bootstrap.sh exports. A commit of the single-run layout runs notebooks 01–05
(`python -m irlkit.runner cpu --only 01_rlhf … 05_refinetune`); a commit with replicates runs one,
01–05 (`python -m irlkit.runner cpu --replicate K`; replicates ≥ 1 skip the transfer arm). 06 only
reads results and is left out of both.

Writes data/results/experiments/end_to_end.json: per commit and repeat, the wall time of each notebook
(the runner's timings.json) and in total, and the ratio of the medians (last commit / first).
`--include SHA=CLONE` adds a run made the same way by hand (a fresh clone of SHA with linked assets,
`python -m irlkit.runner cpu --replicate K` in it): its wall times are read from CLONE's timings.json.
Nothing else may run on the machine meanwhile: two cores collapse when anything else uses one.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from irlkit import layout, replicates, store
from irlkit.runner import PER_REPLICATE as NOTEBOOKS  # 01–05
ENV = {"PYTHONHASHSEED": "0", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
       "TOKENIZERS_PARALLELISM": "false", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
"""scripts/bootstrap.sh's exports (the same at 6968d2b and on main)."""


def git(*args, cwd=layout.ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def clone(commit: str, into) -> None:
    """A fresh clone at `commit` whose data folder holds only links to this checkout's assets."""
    shutil.rmtree(into, ignore_errors=True)
    git("clone", "-q", "--no-checkout", str(layout.ROOT), str(into))
    git("checkout", "-q", commit, cwd=into)
    (into / "data").mkdir(exist_ok=True)
    for name in ("raw", "models"):
        shutil.rmtree(into / "data" / name, ignore_errors=True)
        (into / "data" / name).symlink_to(layout.data_dir() / name)
    (into / ".venv").symlink_to(layout.ROOT / ".venv")


def timed(profile: str, replicate: int, into, has_replicates: bool) -> dict:
    """{notebook: s, "notebooks_total": s} of a finished run in the clone `into`."""
    timings = json.loads((into / layout.Layout(profile).result("timings").relative_to(layout.ROOT)).read_text())
    seconds = timings["replicates"][f"r{replicate}"] if has_replicates else timings
    out = {name: seconds[name] for name in NOTEBOOKS}
    out["notebooks_total"] = round(sum(out.values()), 1)
    return out


def run(commit: str, profile: str, replicate: int, into) -> dict:
    """Run `commit`'s pipeline in a fresh clone; {notebook: s, "total": s (the clock)}."""
    clone(commit, into)
    has_replicates = "--replicate" in (into / "irlkit" / "runner.py").read_text()
    command = [sys.executable, "-m", "irlkit.runner", profile]
    command += ["--replicate", str(replicate)] if has_replicates else ["--only", *NOTEBOOKS]
    env = {**os.environ, **ENV, "PYTHONPATH": str(into)}
    env.pop("IRLKIT_DATA", None)
    print(f"[end_to_end] {commit}: {' '.join(command[1:])} in {into}", flush=True)
    t0 = time.time()
    subprocess.run(command, cwd=into, env=env, check=True)
    total = round(time.time() - t0, 1)
    out = {**timed(profile, replicate, into, has_replicates), "total": total,
           "command": " ".join(["python", *command[1:]])}
    print(f"[end_to_end] {commit}: {total:.0f} s", flush=True)
    return out


def summarise(result: dict, order: list) -> None:
    """Medians of each commit's notebook totals, and the last commit's over the first's."""
    medians = {c: statistics.median(r["notebooks_total"] for r in rows) for c, rows in result["runs"].items()}
    result["median_notebooks_total"] = medians
    done = [c for c in order if c in medians]
    if len(done) > 1:
        result["ratio_last_to_first"] = {"last": done[-1], "first": done[0], "ratio": round(medians[done[-1]] / medians[done[0]], 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", nargs="+", default=["6968d2b", "HEAD"])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--replicate", type=int, default=1, help="which replicate a commit with replicates runs")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--include", nargs="*", default=[], metavar="SHA=CLONE", help="a finished run made by hand")
    args = parser.parse_args(argv)
    commits = {c: git("rev-parse", "--short", c) for c in args.commits}
    result = {"cpu": replicates.cpu_model(), "profile": args.profile, "replicate": args.replicate, "runs": {}}
    included = []
    for item in args.include:
        sha, clone_dir = item.split("=", 1)
        sha = git("rev-parse", "--short", sha)
        result["runs"].setdefault(sha, []).append({**timed(args.profile, args.replicate, Path(clone_dir), True),
                                                    "command": f"by hand in a fresh clone: python -m irlkit.runner "
                                                               f"{args.profile} --replicate {args.replicate}"})
        included.append(sha)
    for repeat in range(args.repeats):  # interleaved, so that a slow spell of the machine hits both
        for sha in commits.values():
            row = run(sha, args.profile, args.replicate, layout.experiment_scratch("end_to_end") / sha)
            result["runs"].setdefault(sha, []).append(row)
            summarise(result, list(commits.values()) + included)
            store.write_experiment("end_to_end", result)  # after every run: a killed benchmark keeps what finished
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
