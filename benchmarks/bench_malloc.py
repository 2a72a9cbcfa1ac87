"""Seconds per RLOO step with glibc's default malloc and with the settings bootstrap.sh exports.

    .venv/bin/python benchmarks/bench_malloc.py gemma3-270m --repeats 2

GLIBC_TUNABLES is read when a process starts, so each variant runs `profile_rloo.py` (4 steps of the cpu
recipe) in a fresh subprocess; the variants alternate, and the script prints each one's median seconds
per step and the ratio to the default. `hugetlb=1` lets malloc back its heap with transparent huge pages:
the many large tensors allocated and freed every step then cost fewer page faults (the kernel time of a
step halves)."""
import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

VARIANTS = {
    "default": None,
    "thresholds (no munmap of large blocks)": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296",
    "hugetlb=1 (bootstrap.sh)": "glibc.malloc.hugetlb=1",
}

parser = argparse.ArgumentParser()
parser.add_argument("size")
parser.add_argument("--repeats", type=int, default=2)
parser.add_argument("--steps", type=int, default=4)
args = parser.parse_args()

profile_rloo = Path(__file__).with_name("profile_rloo.py")
seconds = {name: [] for name in VARIANTS}
for repeat in range(args.repeats):
    for name, tunables in VARIANTS.items():
        env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
        if tunables:
            env["GLIBC_TUNABLES"] = tunables
        out = subprocess.run([sys.executable, str(profile_rloo), args.size, "--steps", str(args.steps)],
                             env=env, capture_output=True, text=True, check=True).stdout
        step = float(re.search(r"whole step\s+([\d.]+)", out).group(1))
        seconds[name].append(step)
        print(f"repeat {repeat}: {name:40s} {step:6.2f} s/step", flush=True)

default = statistics.median(seconds["default"])
print(f"\n{args.size}: median seconds per RLOO step over {args.repeats} runs of {args.steps} steps")
for name, values in seconds.items():
    median = statistics.median(values)
    print(f"  {name:40s} {median:6.2f}   {default / median:4.2f}× the default")
