"""Do two commits' committed results hold the same numbers? (A pure speedup must leave them so.)

    .venv/bin/python benchmarks/compare_results.py a1c4120 1724105 data/results/cpu/replicates \
        --name cpu_replicates_one_kernel_identical

Compares every file under PATH as committed at each commit, less what differs between any two runs
(`VOLATILE` keys: creation times, wall times, the code hash; the report's wall-time line; the files of
wall times and provenance, `TIMING_FILES`). Prints the files that differ (or that only one commit has) and,
with --name, writes them to data/results/experiments/<name>.json (`differ: []`: every number identical).
"""
import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from irlkit import layout, store

TIMING_FILES = {"timings.json", "manifest.json"}
"""Results files of wall times and provenance only."""
VOLATILE = {"created", "wall_seconds", "code_hash"}
"""Keys of the other results files that differ between any two runs (when, how long) or commits (the code hash)."""


def comparable(path: Path):
    """The file's content less what differs between any two runs: `VOLATILE` keys, the report's wall-time line."""
    if path.suffix == ".json":
        strip = lambda v: ({k: strip(x) for k, x in v.items() if k not in VOLATILE} if isinstance(v, dict)  # noqa: E731
                           else [strip(x) for x in v] if isinstance(v, list) else v)
        return strip(json.loads(path.read_text()))
    if path.suffix == ".md":
        return [line for line in path.read_text().splitlines() if not line.startswith("Wall time")]
    return path.read_bytes()


def different_results(a: Path, b: Path) -> list[str]:
    """Results files (but `TIMING_FILES`) that differ between folders `a` and `b` beyond `comparable`, or that
    only one has."""
    files = lambda root: {p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.name not in TIMING_FILES}  # noqa: E731
    fa, fb = files(a), files(b)
    return sorted(str(p) for p in fa ^ fb) + sorted(str(p) for p in fa & fb if comparable(a / p) != comparable(b / p))


def committed(commit: str, path: str, into: Path) -> Path:
    """`path` as committed at `commit`, extracted below `into`."""
    archive = subprocess.run(["git", "archive", commit, path], cwd=layout.ROOT, check=True, capture_output=True).stdout
    with tempfile.TemporaryFile() as f:
        f.write(archive)
        f.seek(0)
        tarfile.open(fileobj=f).extractall(into, filter="data")
    return into / path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("new")
    parser.add_argument("path", help="a folder of committed results, e.g. data/results/cpu/replicates")
    parser.add_argument("--name", help="write data/results/experiments/<name>.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        differ = different_results(*(committed(c, args.path, Path(tmp) / c) for c in (args.base, args.new)))
    print(json.dumps(differ, indent=1))
    if args.name:
        shas = [subprocess.run(["git", "rev-parse", "--short", c], cwd=layout.ROOT, check=True, capture_output=True,
                               text=True).stdout.strip() for c in (args.base, args.new)]
        store.write_experiment(args.name, {"base": shas[0], "new": shas[1], "path": args.path, "differ": differ,
                                           "left_out": {"files": sorted(TIMING_FILES), "keys": sorted(VOLATILE)}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
