"""Do two sets of results hold the same numbers? (A pure speedup or refactor must leave them so.)

    # two results folders, e.g. a clone of the commit before and this checkout, each after the same run
    .venv/bin/python benchmarks/compare_results.py /tmp/before/data/results/smoke data/results/smoke --name NAME
    # one folder as committed at two commits
    .venv/bin/python benchmarks/compare_results.py a1c4120 1724105 --path data/results/cpu/replicates \
        --name cpu_replicates_one_kernel_identical

Compares every file under both folders (recursively), less what differs between any two runs of the same
numbers: the files of wall times and provenance (`TIMING_FILES`), the `VOLATILE` keys of the other JSON files
(each result's `_manifest`: creation time and hashes; wall times; the code hash) and the report's wall-time
line. Prints each differing number (`file: /key/path: before vs after`) and each file only one side has; with
--name, writes them to data/results/bench/<name>.json (`differ: []`: every number identical).
Exit status 1 when anything differs, as `diff`'s.
"""
import argparse
import json
import math
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from irlkit import layout, store

TIMING_FILES = {"timings.json", "manifest.json"}
"""Results files of wall times and provenance only."""
VOLATILE = {"_manifest", "created", "wall_seconds", "build_seconds", "code_hash"}
"""Keys of the other results files that differ between any two runs (when, how long) or commits (hashes)."""


def comparable(path: Path):
    """The file's content less what differs between any two runs: `VOLATILE` keys, the report's wall-time line."""
    if path.suffix == ".json":
        strip = lambda v: ({k: strip(x) for k, x in v.items() if k not in VOLATILE} if isinstance(v, dict)  # noqa: E731
                           else [strip(x) for x in v] if isinstance(v, list) else v)
        return strip(json.loads(path.read_text()))
    if path.suffix == ".md":
        return [line for line in path.read_text().splitlines() if not line.startswith("Wall time")]
    return path.read_bytes()


def differences(a, b, where: str = "") -> list[str]:
    """Where two `comparable` contents differ: `/key/path: a vs b` (NaN equals NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        only = [f"{where}/{k}: only in {'before' if k in a else 'after'}" for k in sorted(set(a) ^ set(b))]
        return only + [d for k in sorted(a.keys() & b.keys()) for d in differences(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return [] if same else [f"{where or '/'}: {_short(a)} vs {_short(b)}"]


def _short(value) -> str:
    text = repr(value) if not isinstance(value, list) else f"{len(value)} items"
    return text if len(text) <= 80 else text[:77] + "..."


def compared(a: Path, b: Path) -> dict[str, list[str]]:
    """{file: its differences} for every results file (but `TIMING_FILES`) that differs between folders `a`
    and `b`, or that only one has (then `["only in before"]` or `["only in after"]`)."""
    files = lambda root: {p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.name not in TIMING_FILES}  # noqa: E731
    fa, fb = files(a), files(b)
    out = {str(p): [f"only in {'before' if p in fa else 'after'}"] for p in sorted(fa ^ fb)}
    for p in sorted(fa & fb):
        before, after = comparable(a / p), comparable(b / p)
        if before != after:
            out[str(p)] = differences(before, after) if p.suffix == ".json" else ["content differs"]
    return out


def different_results(a: Path, b: Path) -> list[str]:
    """The results files that differ between folders `a` and `b` beyond `comparable`, or that only one has."""
    return list(compared(a, b))


def committed(commit: str, path: str, into: Path) -> Path:
    """`path` as committed at `commit`, extracted below `into`."""
    made = subprocess.run(["git", "archive", commit, path], cwd=layout.ROOT, capture_output=True)
    if made.returncode:
        print(f"compare_results: {path} at {commit}: {made.stderr.decode().strip()}", file=sys.stderr)
        raise SystemExit(2)  # as argparse's errors: 1 means "differs"
    archive = made.stdout
    with tempfile.TemporaryFile() as f:
        f.write(archive)
        f.seek(0)
        tarfile.open(fileobj=f).extractall(into, filter="data")
    return into / path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="a results folder, or a commit (with --path)")
    parser.add_argument("after", help="a results folder, or a commit (with --path)")
    parser.add_argument("--path", help="compare this folder as committed at the commits BEFORE and AFTER")
    parser.add_argument("--name", help="write data/results/bench/<name>.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.path:
            for commit in (args.before, args.after):
                if subprocess.run(["git", "rev-parse", "--verify", "-q", f"{commit}^{{commit}}"], cwd=layout.ROOT,
                                  capture_output=True).returncode:
                    parser.error(f"{commit} is no commit of this repository")
            sides = [committed(c, args.path, Path(tmp) / c) for c in (args.before, args.after)]
        else:
            sides = [Path(p) for p in (args.before, args.after)]
            for side in sides:
                if not side.is_dir():
                    parser.error(f"{side} is no folder (to compare commits, name the folder with --path)")
        found = compared(*sides)
    for name, diffs in found.items():
        for d in diffs:
            print(f"{name}: {d}")
    print(f"{len(found)} file(s) differ" if found else "every number identical")
    if args.name:
        sides = ({"before_commit": _sha(args.before), "after_commit": _sha(args.after), "path": args.path}
                 if args.path else {"before": args.before, "after": args.after})
        store.write_benchmark(args.name, {**sides, "differ": list(found), "differences": found,
                                           "left_out": {"files": sorted(TIMING_FILES), "keys": sorted(VOLATILE)}})
    return 1 if found else 0


def _sha(commit: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", commit], cwd=layout.ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
