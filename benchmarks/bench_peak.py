"""The machine's own peak: matmul GFLOP/s in fp32 and bf16 for the shapes the cpu models run.

    .venv/bin/python benchmarks/bench_peak.py --repeats 20 [--json data/results/bench/bench_peak.json]

Two ways to use the 2 cores, as the pipeline does: one process with 2 torch threads, and two processes
with 1 thread each running at once (their GFLOP/s added). Shapes, with `tokens` rows (a batch of 32
texts of 64 tokens = 2,048 rows):

- feed-forward: tokens × hidden @ hidden × intermediate (SmolLM2 576 → 1,536; Gemma 640 → 2,048)
- vocabulary head: tokens × hidden @ hidden × vocabulary (SmolLM2 49,152; Gemma 262,144)
- attention scores: (batch·heads) × seq × head_dim @ head_dim × seq, at seq 64 (features, log-probs)

A matmul of (m × k) @ (k × n) does 2·m·k·n FLOPs. Each shape is timed `--repeats` times after a warm-up;
the median is reported.
"""
import argparse
import multiprocessing
import statistics
import time

SHAPES = {  # name: (batch, m, k, n)
    "smollm2 feed-forward 576×1536": (1, 2048, 576, 1536),
    "gemma3 feed-forward 640×2048": (1, 2048, 640, 2048),
    "smollm2 vocabulary head 576×49152": (1, 512, 576, 49152),
    "gemma3 vocabulary head 640×262144": (1, 256, 640, 262144),
    "smollm2 attention scores (9 heads, d 64, seq 64)": (32 * 9, 64, 64, 64),
    "gemma3 attention scores (4 heads, d 256, seq 64)": (32 * 4, 64, 256, 64),
}
FEED_FORWARD = {"smollm2-135m": (1, 2048, 576, 1536), "gemma3-270m": (1, 2048, 640, 2048),
                "qwen2.5-coder-0.5b": (1, 2048, 896, 4864), "qwen2.5-coder-1.5b": (1, 2048, 1536, 8960)}
"""Each size's feed-forward matmul: the shape the other benchmarks read a stage's share of the peak against."""


def gflops(shape, dtype_name: str, threads: int, repeats: int) -> float:
    import torch

    torch.set_num_threads(threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    b, m, k, n = shape
    x, w = torch.randn(b, m, k, dtype=dtype), torch.randn(b, k, n, dtype=dtype)
    flops = 2 * b * m * k * n
    for _ in range(3):  # warm-up: thread pools, caches
        torch.matmul(x, w)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(x, w)
        times.append(time.perf_counter() - t0)
    return flops / statistics.median(times) / 1e9


def _one(args):
    return gflops(*args)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", help="also write the table as JSON here")
    args = parser.parse_args()
    rows = []
    ctx = multiprocessing.get_context("spawn")
    for name, shape in SHAPES.items():
        for dtype in ("fp32", "bf16"):
            one_process = gflops(shape, dtype, 2, args.repeats)
            with ctx.Pool(2) as pool:  # two one-thread processes at once, as the pipeline's workers run
                two = sum(pool.map(_one, [(shape, dtype, 1, args.repeats)] * 2))
            rows.append({"shape": name, "dtype": dtype, "one_process_2_threads": round(one_process, 1),
                         "two_processes_1_thread": round(two, 1)})
            print(f"{name:52s} {dtype}  1×2 threads {one_process:8.1f} GFLOP/s   2×1 thread {two:8.1f} GFLOP/s", flush=True)
    if args.json:
        from irlkit import store

        store.atomic_write_json(args.json, {"command": "benchmarks/bench_peak.py", "repeats": args.repeats, "rows": rows})


if __name__ == "__main__":
    main()
