"""Two RLOO runs at once, one torch thread each, against one run with both threads (irlkit.parallel).

    python benchmarks/bench_workers.py gemma3-270m --steps 5 --repeats 2

Each repeat times, in fresh processes on the same machine: one run of `steps` RLOO steps with 2
threads alone, then two such runs side by side with 1 thread each. Printed: median seconds per
step of each, and the throughput ratio 2 × (2-thread step) / (side-by-side step): how much more
RLOO work the two cores do per second with `workers = 2`.
"""
import argparse
import statistics
import subprocess
import sys


def _one_run(size: str, threads: int, steps: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--child", size, str(threads), str(steps)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _step_seconds(procs: list[subprocess.Popen]) -> list[float]:
    out = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"benchmark child failed with exit code {p.returncode}")
        out.append(float(stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        size, threads, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        import torch
        from rloo_timing import median_step_seconds  # a script's own folder is on sys.path

        torch.set_num_threads(threads)
        print(median_step_seconds(size, steps))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", default="gemma3-270m")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    alone, side_by_side = [], []
    for r in range(args.repeats):
        alone += _step_seconds([_one_run(args.size, 2, args.steps)])
        side_by_side += _step_seconds([_one_run(args.size, 1, args.steps) for _ in range(2)])
        print(f"repeat {r + 1}: alone (2 threads) {alone[-1]:.2f} s/step; "
              f"side by side (1 thread each) {side_by_side[-2]:.2f}, {side_by_side[-1]:.2f} s/step", flush=True)
    a, s = statistics.median(alone), statistics.median(side_by_side)
    print(f"{args.size}: median s/step alone {a:.2f}, side by side {s:.2f}; throughput ratio {2 * a / s:.2f}×")


if __name__ == "__main__":
    main()
