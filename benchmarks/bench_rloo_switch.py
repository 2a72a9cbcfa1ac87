"""One RLOO step with a boolean `rlhf` switch off (TRL as shipped) and on (ours), in one process.

    .venv/bin/python benchmarks/bench_rloo_switch.py gemma3-270m one_pass --steps 4 --repeats 2
    .venv/bin/python benchmarks/bench_rloo_switch.py gemma3-270m completion_logprobs_only
    .venv/bin/python benchmarks/bench_rloo_switch.py gemma3-270m inverse_cdf_sampling

`one_pass`: no second policy forward (`rlhf._one_pass_rloo_trainer`). `completion_logprobs_only`: only
the completion tokens go through the vocabulary projection (`rlhf._completion_logprobs_only`).
`inverse_cdf_sampling`: completion tokens drawn by `sampling.draw_categorical`, not torch.multinomial.
Trains `--steps` steps of the cpu recipe for the size (the true judge as reward) with the switch off
and on, alternating, `--repeats` times; prints the median seconds per step (the first step of each run
is dropped: it pays for warm-up) and the ratio. Set GLIBC_TUNABLES as run_all.sh does to time what the
pipeline runs."""
import argparse
import statistics

from irlkit import config
from rloo_timing import median_step_seconds

parser = argparse.ArgumentParser()
parser.add_argument("size")
parser.add_argument("switch", choices=("one_pass", "completion_logprobs_only", "inverse_cdf_sampling"))
parser.add_argument("--steps", type=int, default=4)
parser.add_argument("--repeats", type=int, default=2)
args = parser.parse_args()
if args.steps < 2:
    parser.error("--steps must be at least 2: the first step is warm-up")

per_step = {False: [], True: []}
for repeat in range(args.repeats):
    for on in per_step:
        per_step[on].append(median_step_seconds(args.size, args.steps, **{args.switch: on}))
        print(f"repeat {repeat + 1} {args.switch}={on}: {per_step[on][-1]:.2f} s per step", flush=True)
naive, ours = (statistics.median(per_step[on]) for on in (False, True))
precision = config.load("cpu").rlhf_for(args.size).precision
print(f"{args.size} {precision}, {args.steps} steps × {args.repeats} repeats, median s per step after the first: "
      f"{args.switch}=False (TRL) {naive:.2f}, True {ours:.2f}, ratio {naive / ours:.2f}×")
