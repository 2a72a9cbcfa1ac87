"""Where sampled generation's time goes (05's endpoint, the toxicity–KL path, RLOO's completions), by torch operator.

    .venv/bin/python benchmarks/profile_decode.py --sizes smollm2-135m gemma3-270m --rows 64

Per size of the cpu profile: the start policy in the profile's sampling precision, `--rows` rows (16 val prompts
× 4 samples at 64), 16 new tokens at temperature 1 with the inverse-CDF draw (`rlhf.samples`' settings), one
thread (a pipeline worker's). One warm-up call, then one profiled by `torch.profiler`; also whether a static KV
cache, eager or compiled by transformers (`cache_implementation="static"`), is faster, as the median of
`--repeats` calls each, taking turns. Writes data/results/bench/<name>.json: each operator's share of the
profiled call and the variants' seconds. Shares, not seconds, are what carry over to a busier machine.
"""
import argparse
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile
from transformers.generation.configuration_utils import CompileConfig

from irlkit import config, data, models, store
from irlkit.sampling import inverse_cdf_sampling


def variants() -> dict[str, dict]:
    compiled = CompileConfig(fullgraph=False, dynamic=False, mode="default")
    compiled._compile_all_devices = True  # transformers compiles on CPU only when asked
    return {"dynamic cache (today)": {}, "static cache": {"cache_implementation": "static", "disable_compile": True},
            "static cache, compiled": {"cache_implementation": "static", "compile_config": compiled}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["smollm2-135m", "gemma3-270m"])
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--name", default="profile_decode")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = config.load("cpu")
    prompts = list(data.split_of(data.load_prompts(cfg), "val").prompt[: args.rows // 4])
    out = {}
    for size in args.sizes:
        model, tok = models.load_policy(models.materialise(cfg.size(size).start))
        if cfg.sampling.precision == "bf16":
            model.to(torch.bfloat16)
        enc = tok([p for p in prompts for _ in range(4)], return_tensors="pt", padding=True)
        kw = dict(max_new_tokens=cfg.sampling.max_new_tokens, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                  pad_token_id=tok.pad_token_id)

        def call(extra=None):
            torch.manual_seed(0)
            t0 = time.perf_counter()
            with torch.inference_mode(), inverse_cdf_sampling(True):
                model.generate(**enc, **kw, **(extra or {}))
            return time.perf_counter() - t0

        call()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            profiled = call()
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in events)
        ops = [{"op": e.key, "share": e.self_cpu_time_total / total, "calls": e.count} for e in events[:15]]
        seconds = {name: [] for name in variants()}
        for name, extra in variants().items():
            call(extra)  # warm-up (and compilation)
        for _ in range(args.repeats):
            for name, extra in variants().items():
                seconds[name].append(call(extra))
        today = statistics.median(seconds["dynamic cache (today)"])
        out[size] = {"rows": args.rows, "profiled_seconds": profiled, "top_ops": ops,
                     "variants": {n: {"seconds": s, "median": statistics.median(s), "speed_up": today / statistics.median(s)}
                                  for n, s in seconds.items()}}
        print(size, *(f"{o['op']} {o['share']:.0%}" for o in ops[:6]), sep="\n  ")
        for n, v in out[size]["variants"].items():
            print(f"  {n}: median {v['median']:.2f} s, {v['speed_up']:.2f}x")
    print(store.write_benchmark(args.name, {"threads": 1, "sizes": out}, cfg))


if __name__ == "__main__":
    main()
