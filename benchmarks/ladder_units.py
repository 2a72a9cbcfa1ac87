"""What one unit of each heavy stage costs for the `ladder` profile's sizes, beside the cpu sizes, on this machine.

    .venv/bin/python benchmarks/ladder_units.py --prompts 64 --steps 3

Per size, in one process (2 threads), nothing else running: the load of the converted policy; greedy
generation of `--prompts` val prompts (the profile's horizon and batch size, its precision); the
frozen-backbone features of those texts (`irl.features`, fp32); and the median LoRA RLOO step of the
profile's recipe (`rloo_timing.py`: the first step is warm-up and dropped). A stage's time scales
with these units (generation and features with the number of texts, RLOO with steps), so the ratios to
the cpu sizes' units say how much longer a ladder replicate is than a cpu one, before a ladder run
measures it. Writes data/results/bench/ladder_units.json (`--out` names another file: one per machine).
"""
import argparse
import time

import torch
from rloo_timing import median_step_seconds

from irlkit import config, data, irl, models, replicates, sampling, stages, store


def units(profile: str, size: str, prompts: int, steps: int) -> dict:
    ctx = stages.Context(config.load(profile, progress=False))
    cfg, sc = ctx.cfg, ctx.cfg.sampling
    val = list(data.split_of(ctx.prompts, "val").prompt[:prompts])
    t0 = time.perf_counter()
    model, tokenizer = models.load_policy(str(ctx.start(size)))
    out = {"load_s": round(time.perf_counter() - t0, 1), "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6)}
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=sc.precision == "bf16"):
        texts = sampling.generate(model, tokenizer, val, max_new_tokens=sc.max_new_tokens, batch_size=sc.batch_size)
    out["greedy_s_per_prompt"] = round((time.perf_counter() - t0) / len(val), 3)
    t0 = time.perf_counter()
    irl.features(model.base_model, tokenizer, [v + t for v, t in zip(val, texts)], max_length=cfg.irl.max_length)
    out["features_s_per_text"] = round((time.perf_counter() - t0) / len(val), 4)
    del model
    out["rloo_s_per_step"] = round(median_step_seconds(size, steps, profile=profile), 2)
    out["lora_rank"] = cfg.rlhf_for(size).lora_rank
    print(profile, size, out, flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--profiles", nargs="+", default=["cpu", "ladder"])
    parser.add_argument("--out", default="ladder_units", help="experiment name: data/results/experiments/OUT.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    result = {"cpu": replicates.cpu_model(), "prompts": args.prompts, "steps": args.steps, "sizes": {}}
    for profile in args.profiles:
        for spec in config.load(profile, progress=False).sizes:
            result["sizes"][f"{profile}/{spec.name}"] = units(profile, spec.name, args.prompts, args.steps)
            store.write_benchmark(args.out, result)  # after every size: a killed run keeps what finished
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
