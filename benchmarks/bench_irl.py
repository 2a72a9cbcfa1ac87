"""IRL training speed, side by side in one process on the same pairs.

    .venv/bin/python benchmarks/bench_irl.py [--pairs 32] [--repeats 3]

1. full mode: batched, padded pairs (8 pairs = 16 texts per forward, as our RewardTrainer
   does) vs the study's way (two texts per step, each tokenised and forwarded alone);
2. probe mode: features cached once, head trained for E epochs, vs recomputing the
   backbone's features every epoch.
"""
import argparse
import statistics
import time

import torch

from irlkit import config, data, irl, models


def full_step_batched(model, tok, expert, start, batch_size, opt, loss_fn):
    tok.padding_side, tok.truncation_side = "left", "left"
    for i in range(0, len(expert), batch_size):
        enc = tok(expert[i:i + batch_size] + start[i:i + batch_size], return_tensors="pt", padding=True, truncation=True,
                  max_length=48)
        opt.zero_grad()
        r = model(**enc).logits[:, 0]
        chosen, rejected = r.chunk(2)
        loss_fn(chosen - rejected).mean().backward()
        opt.step()


def full_step_one_by_one(model, tok, expert, start, opt, loss_fn):
    for e, s in zip(expert, start):
        opt.zero_grad()
        re = model(**tok(e, return_tensors="pt", truncation=True, max_length=48)).logits[0, 0]
        rs = model(**tok(s, return_tensors="pt", truncation=True, max_length=48)).logits[0, 0]
        loss_fn(re - rs).backward()
        opt.step()


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default="asset:smollm2-135m-instruct")
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30, help="probe epochs")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prompts = data.load_prompts(config.load("cpu"))
    expert = list(prompts.original_output[: args.pairs])
    start = list(prompts.original_output[args.pairs: 2 * args.pairs])
    folder = models.materialise(args.source)

    model, tok = models.load_reward_model(folder)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: same work, the weights stay put between repeats
    times = {"one-by-one": [], "batched": []}
    for _ in range(args.repeats):
        times["one-by-one"].append(timed(lambda: full_step_one_by_one(model, tok, expert, start, opt, irl.max_margin)))
        times["batched"].append(timed(lambda: full_step_batched(model, tok, expert, start, 8, opt, irl.max_margin)))
    med = {k: args.pairs / statistics.median(v) for k, v in times.items()}
    print(f"full mode ({args.pairs} pairs): one-by-one {med['one-by-one']:.2f} pairs/s, batched {med['batched']:.2f} pairs/s, "
          f"ratio {med['batched'] / med['one-by-one']:.2f}x")

    backbone = models.load_backbone(folder)
    ptok = models.load_tokenizer(folder)
    feats = lambda texts: irl.features(backbone, ptok, texts, max_length=48)  # noqa: E731

    def cached():
        fe, fs = feats(expert), feats(start)
        irl.train_probe(fe, fs, loss="logistic", seed=0, epochs=args.epochs, lr=1e-2, batch_size=8)

    def recomputed():
        for _ in range(args.epochs):
            fe, fs = feats(expert), feats(start)
            irl.train_probe(fe, fs, loss="logistic", seed=0, epochs=1, lr=1e-2, batch_size=8)

    t_cached = statistics.median(timed(cached) for _ in range(args.repeats))
    t_recomputed = statistics.median(timed(recomputed) for _ in range(max(1, args.repeats - 2)))
    print(f"probe ({args.pairs} pairs, {args.epochs} epochs): cached features {t_cached:.2f} s, "
          f"recomputed every epoch {t_recomputed:.2f} s, ratio {t_recomputed / t_cached:.1f}x")


if __name__ == "__main__":
    main()
