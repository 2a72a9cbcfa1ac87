"""What verifying a stage's files costs: SHA-256 vs BLAKE2b over the largest artifacts a run writes.

    .venv/bin/python benchmarks/bench_hashing.py --repeats 3

Hashes the converted SmolLM2 and Gemma weights (the size of every trained policy's model.safetensors)
from the page cache, both hashes in one process, and prints medians and the ratio.
"""
import argparse
import hashlib
import statistics
import time

from irlkit import assets

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()
for name in ("smollm2-135m-instruct", "gemma3-270m"):
    path = assets.require(name) / "model.safetensors"
    size = path.stat().st_size
    path.read_bytes()  # into the page cache: the case of a stage checked right after it was built or read
    for algo, make in (("sha256", hashlib.sha256), ("blake2b", lambda: hashlib.blake2b(digest_size=32))):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            with open(path, "rb") as f:
                hashlib.file_digest(f, make)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"{name:24s} {size / 1e6:7.0f} MB  {algo:8s} {med:6.2f} s  {size / med / 1e9:5.2f} GB/s")
