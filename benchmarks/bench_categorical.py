"""Drawing one token per row from the softmax: torch.multinomial against sampling.draw_categorical.

    .venv/bin/python benchmarks/bench_categorical.py --rows 16 --repeats 50

The rows are softmaxes of random logits over each cpu size's vocabulary (SmolLM2 49,152 tokens,
Gemma-3 262,144); both draws time the same tensor in one process, alternating. Prints the median
milliseconds per call of each and the ratio. RLOO draws once per new token for all its completions
(16 rows in the cpu profile)."""
import argparse
import statistics
import time

import torch

from irlkit.sampling import draw_categorical

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, default=16)
parser.add_argument("--repeats", type=int, default=50)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def ms(fn, probs) -> float:
    t0 = time.perf_counter()
    fn(probs)
    return (time.perf_counter() - t0) * 1e3


for name, vocab in (("smollm2-135m", 49_152), ("gemma3-270m", 262_144)):
    probs = (3 * torch.randn(args.rows, vocab)).softmax(-1)
    times = {"torch.multinomial": [], "draw_categorical": []}
    draws = {"torch.multinomial": lambda p: torch.multinomial(p, 1), "draw_categorical": draw_categorical}
    for fn in draws.values():
        fn(probs)  # warm-up
    for _ in range(args.repeats):
        for label, fn in draws.items():
            times[label].append(ms(fn, probs))
    naive, ours = (statistics.median(times[k]) for k in draws)
    print(f"{name} ({vocab} tokens, {args.rows} rows, {args.threads} threads): torch.multinomial {naive:.2f} ms, "
          f"draw_categorical {ours:.2f} ms, ratio {naive / ours:.1f}×")
