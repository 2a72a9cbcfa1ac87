"""The trainers' own scale-out path: the full-mode reward trainer and one RLOO run, in every process
that `accelerate launch` starts (data-parallel; on CPUs over gloo).

    accelerate launch --num_processes 2 --cpu scripts/scale_out.py OUT_DIR

Uses the smoke profile's tiny models and a few prompts. Each process writes OUT_DIR/rank<k>.json with
what it saw (world size, its rank, steps, a checksum of its final weights), so a caller can check that
the processes trained together: both see two processes and take the same RLOO steps, and DDP's gradient
averaging leaves the reward model with the same weights in both. The policy is saved once, by rank 0.
"""
import json
import sys
from pathlib import Path

import torch
from accelerate import PartialState

from irlkit import config, data, irl, models, rlhf
from irlkit.judges import make_judge
from irlkit.rewards import JudgeReward

out = Path(sys.argv[1])
state = PartialState()
cfg = config.load("smoke", progress=False, irl={"full_epochs": 1}, rlhf={"steps": 2})
start = models.materialise(cfg.sizes[0].start)
prompts = data.split_of(data.load_prompts(cfg), "train").head(16)

model, _, history = irl.train_full(start, list(prompts.prompt + prompts.original_output)[:8],
                                   list(prompts.prompt)[:8], loss="logistic", seed=0, cfg=cfg, out=out / f"full{state.process_index}")
reward_weights = float(sum(p.detach().double().sum() for p in model.parameters()))

summary = rlhf.train(start, prompts, rlhf.reward_function(JudgeReward(make_judge("toxblock"))),
                     cfg.rlhf_for(cfg.sizes[0].name), out / "rloo", max_new_tokens=cfg.sampling.max_new_tokens,
                     seed=cfg.seed, desc="scale-out")
(out / f"rank{state.process_index}.json").write_text(json.dumps({
    "world_size": state.num_processes, "rank": state.process_index, "rloo_steps": summary["steps"],
    "reward_model_weights": reward_weights, "torch_threads": torch.get_num_threads()}))
