"""Whole pipelines end to end on this machine, one after the other: the speed target's measurement.

    .venv/bin/python benchmarks/end_to_end.py                              # 6968d2b's pipeline, then one replicate of HEAD
    .venv/bin/python benchmarks/end_to_end.py --commits 6968d2b HEAD --replicate 1 --repeats 2
    .venv/bin/python benchmarks/end_to_end.py --commits 6968d2b --include 784f3ee=/work/final:1  # + a finished run
    .venv/bin/python benchmarks/end_to_end.py --name end_to_end_intel --resume --commits \
        --include HEAD=/work/aside/clone:0:with-shared HEAD=/work/aside/clone:1    # add runs to a saved result

Each commit runs in its own clone of this repository (`layout.experiment_scratch("end_to_end")/<commit>`), with this
checkout's assets (data/raw, data/models) and .venv linked in and an otherwise empty data folder, so work
shared by replicates is counted in the replicate that does it first. The environment is the one
scripts/bootstrap.sh exports. A commit of the single-run layout runs notebooks 01–05
(`python -m irlkit.runner cpu --only 01_rlhf … 05_refinetune`); a commit with replicates runs one,
01–05 (`python -m irlkit.runner cpu --replicate K`; replicates ≥ 1 skip the transfer arm). 06 only
reads results and is left out of both.

Writes data/results/bench/<name>.json (default end_to_end): per commit and repeat, the wall time of each
notebook (the runner's timings.json) and in total, and the ratio of the medians (last commit / first), both of
the notebook totals and of each replicate's own work (its total less the shared work, when it did that work).
`--include SHA=CLONE:K[:with-shared]` adds replicate K of a run made the same way by hand (a fresh clone of SHA,
or a checkout at SHA with `IRLKIT_DATA` pointing at CLONE/data, assets linked in, `python -m irlkit.runner cpu
--replicate K`): its wall times are read from CLONE's timings.json; `with-shared` says that replicate built the
work shared by replicates (the first one run there), whose seconds timings.json records apart.
`--resume` starts from the saved result, so that runs made in different invocations (or sessions) add up.
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


def clone_env(into) -> dict:
    """The environment a run in the clone `into` gets: bootstrap.sh's exports, the clone's irlkit, its own data."""
    env = {**os.environ, **ENV, "PYTHONPATH": str(into)}
    env.pop("IRLKIT_DATA", None)
    return env


def timed(profile: str, replicate: int, into, has_replicates: bool, with_shared: bool = False) -> dict:
    """{notebook: s, "notebooks_total": s, "replicate_only": s} of a finished run in the clone `into`;
    `replicate_only` leaves out the shared work when this replicate did it (`with_shared`)."""
    timings = json.loads((into / layout.Layout(profile).result("timings").relative_to(layout.ROOT)).read_text())
    seconds = timings["replicates"][f"r{replicate}"] if has_replicates else timings
    out = {name: seconds[name] for name in NOTEBOOKS}
    out["notebooks_total"] = round(sum(out.values()), 1)
    shared = round(sum(timings.get("shared", {}).values()), 1) if with_shared else 0.0
    out["shared_work"] = shared
    out["replicate_only"] = round(out["notebooks_total"] - shared, 1)
    return out


def run(commit: str, profile: str, replicate: int, into) -> dict:
    """Run `commit`'s pipeline in a fresh clone; {notebook: s, "total": s (the clock)}."""
    clone(commit, into)
    has_replicates = "--replicate" in (into / "irlkit" / "runner.py").read_text()
    command = [sys.executable, "-m", "irlkit.runner", profile]
    command += ["--replicate", str(replicate)] if has_replicates else ["--only", *NOTEBOOKS]
    env = clone_env(into)
    print(f"[end_to_end] {commit}: {' '.join(command[1:])} in {into}", flush=True)
    t0 = time.time()
    subprocess.run(command, cwd=into, env=env, check=True)
    total = round(time.time() - t0, 1)
    out = {**timed(profile, replicate, into, has_replicates, with_shared=has_replicates), "total": total,
           "command": " ".join(["python", *command[1:]])}
    print(f"[end_to_end] {commit}: {total:.0f} s", flush=True)
    return out


def summarise(result: dict, order: list) -> None:
    """Medians of each commit's notebook totals, and the last commit's over the first's."""
    for what in ("notebooks_total", "replicate_only"):
        medians = {c: statistics.median(r.get(what, r["notebooks_total"]) for r in rows) for c, rows in result["runs"].items()}
        result[f"median_{what}"] = medians
        done = [c for c in order if c in medians]
        if len(done) > 1:
            result["ratio_last_to_first" + ("" if what == "notebooks_total" else "_replicate_only")] = {
                "last": done[-1], "first": done[0], "ratio": round(medians[done[-1]] / medians[done[0]], 3),
                "n": {c: len(result["runs"][c]) for c in (done[0], done[-1])}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", nargs="*", default=["6968d2b", "HEAD"], help="commits to run (none: only --include)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--replicate", type=int, default=1, help="which replicate a commit with replicates runs")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--include", nargs="*", default=[], metavar="SHA=CLONE:K[:with-shared]",
                        help="replicate K of a finished run made by hand")
    parser.add_argument("--name", default="end_to_end", help="the result's name under data/results/experiments/")
    parser.add_argument("--resume", action="store_true", help="add to the saved result of that name")
    args = parser.parse_args(argv)
    commits = {c: git("rev-parse", "--short", c) for c in args.commits}
    result = {"cpu": replicates.cpu_model(), "profile": args.profile, "replicate": args.replicate, "runs": {}}
    saved = layout.bench_result(args.name)
    if args.resume and saved.exists():
        result = json.loads(saved.read_text())["result"]
        if result["cpu"] != replicates.cpu_model():
            parser.error(f"{saved} was measured on {result['cpu']}, this machine is {replicates.cpu_model()}")
    earlier, included = list(result["runs"]), []
    for item in args.include:
        sha, spec = item.split("=", 1)
        clone_dir, k, *flag = spec.split(":")
        if flag not in ([], ["with-shared"]):
            parser.error(f"--include {item}: expected SHA=CLONE:K or SHA=CLONE:K:with-shared")
        sha = git("rev-parse", "--short", sha)
        result["runs"].setdefault(sha, []).append({**timed(args.profile, int(k), Path(clone_dir), True, bool(flag)),
                                                    "replicate": int(k), "command": f"by hand: python -m irlkit.runner "
                                                                                    f"{args.profile} --replicate {k}"})
        included.append(sha)
    order = list(dict.fromkeys(earlier + list(commits.values()) + included))  # first: the baseline
    for repeat in range(args.repeats):  # interleaved, so that a slow spell of the machine hits both
        for sha in commits.values():
            row = run(sha, args.profile, args.replicate, layout.experiment_scratch("end_to_end") / sha)
            result["runs"].setdefault(sha, []).append(row)
            summarise(result, order)
            store.write_benchmark(args.name, result)  # after every run: a killed benchmark keeps what finished
    summarise(result, order)
    store.write_benchmark(args.name, result)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
