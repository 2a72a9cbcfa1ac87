"""Inverse RL of the reward: pairwise losses, reward models, probe and full trainers."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from irlkit import config


def max_margin(d: torch.Tensor) -> torch.Tensor:
    """The study's loss: −d when d > 0, −2d when d < 0. Unbounded below: no scale is identified."""
    return -d + F.relu(-d)


def hinge(d: torch.Tensor) -> torch.Tensor:
    """Margin 1; zero loss once a pair is separated by 1."""
    return F.relu(1.0 - d)


def logistic(d: torch.Tensor) -> torch.Tensor:
    """Bradley–Terry: −log σ(d). Convex in a linear head."""
    return -F.logsigmoid(d)


LOSSES = {"max_margin": max_margin, "hinge": hinge, "logistic": logistic}
"""Pairwise losses of d = R(expert) − R(start), elementwise; their names are `config.LOSSES`."""
assert tuple(LOSSES) == config.LOSSES, "irl.LOSSES and config.LOSSES must name the same losses"


# -- the texts a reward model is trained and judged on --------------------------------

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SOURCES = ("original", "expert", "start")
"""Who wrote a continuation: the human, the RLHF policy, the start policy."""


def reward_input(prompt: str, continuation: str, with_prompt: bool) -> str:
    """What the reward model reads (IRLConfig.with_prompt)."""
    return prompt + continuation if with_prompt else continuation


def text_pool(demos: pd.DataFrame, split: str, with_prompt: bool) -> pd.DataFrame:
    """Every continuation of one split, long format: prompt_id, source, input, p_judge, p_second, human_label."""
    rows = demos[demos.split == split]
    parts = []
    for source, col in (("original", "original_output"), ("expert", "expert_text"), ("start", "start_text")):
        parts.append(pd.DataFrame({
            "prompt_id": rows.prompt_id.values, "source": source,
            "input": [reward_input(p, c, with_prompt) for p, c in zip(rows.prompt, rows[col])],
            "p_judge": rows[f"{col}_judge"].values, "p_second": rows[f"{col}_second"].values,
            "human_label": rows.human_label.values}))
    return pd.concat(parts, ignore_index=True)


def comment_pool(demos: pd.DataFrame, split: str, with_prompt: bool) -> pd.DataFrame:
    """The human-labelled comments of one split, as every reward reads them when it is compared with the
    human labels: the comment's human continuation (after its prompt when `with_prompt`), the text a
    reward scores of any policy, and the one the implicit reward scores. The label is the whole
    comment's. (Defined here once; the judges' own quality, judges.json, reads whole comments.)"""
    rows = demos[demos.split == split]
    return pd.DataFrame({"prompt_id": rows.prompt_id.values,
                         "input": [reward_input(p, c, with_prompt) for p, c in zip(rows.prompt, rows.original_output)],
                         "human_label": rows.human_label.values})


def pairs(demos: pd.DataFrame, split: str, with_prompt: bool) -> tuple[list[str], list[str]]:
    rows = demos[demos.split == split]
    expert = [reward_input(p, c, with_prompt) for p, c in zip(rows.prompt, rows.expert_text)]
    start = [reward_input(p, c, with_prompt) for p, c in zip(rows.prompt, rows.start_text)]
    return expert, start


# -- features and the probe ----------------------------------------------------------


def length_batches(tokenizer, texts: list[str], *, max_length: int, batch_size: int, device):
    """Left-padded, left-truncated batches of similar length (little padding) and each batch's indices in `texts`.

    An empty text becomes the EOS token, so every text has a last token to read.
    """
    texts = [t if t.strip() else tokenizer.eos_token for t in texts]
    tokenizer.padding_side, tokenizer.truncation_side = "left", "left"
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        enc = tokenizer([texts[j] for j in idx], return_tensors="pt", padding=True, truncation=True,
                        max_length=max_length)
        yield idx, enc.to(device)


@torch.inference_mode()
def features(backbone, tokenizer, texts: list[str], *, max_length: int, batch_size: int = 32,
             pooling: str = "last") -> np.ndarray:
    """Final hidden state of each text (left padding, keep the end of long texts): at its last token
    (`pooling="last"`, what a sequence-classification head reads) or averaged over its tokens (`"mean"`)."""
    out = np.zeros((len(texts), backbone.config.hidden_size), np.float32)
    for idx, enc in length_batches(tokenizer, texts, max_length=max_length, batch_size=batch_size,
                                   device=backbone.device):
        hidden = backbone(**enc).last_hidden_state.float()
        if pooling == "mean":
            mask = enc["attention_mask"][..., None].to(hidden.dtype)
            out[idx] = ((hidden * mask).sum(1) / mask.sum(1)).cpu().numpy()
        else:
            out[idx] = hidden[:, -1].cpu().numpy()
    return out


class LinearProbe:
    """R̂(x) = ((φ(x) − μ) / σ) · w: a scalar head on frozen, standardised features."""

    def __init__(self, weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray):
        self.weight, self.mu, self.sigma = weight, mu, sigma

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        return ((feats - self.mu) / self.sigma) @ self.weight


def train_probes(expert_feats: np.ndarray, start_feats: np.ndarray, *, loss: str, seeds: list[int], epochs: int,
                 lr: float, batch_size: int, weight_decay: float = 0.0, on_epoch=None) -> tuple[list, list[dict]]:
    """One linear head per seed, trained side by side on cached features with a pairwise loss.

    Each seed draws its initialisation and its batch order from its own generator and gets its own
    gradients and Adam state, so a seed trained with others ends where it ends alone (up to float
    rounding), in 1/len(seeds) of the optimiser steps. `on_epoch(epoch, probes) -> [dict per seed]`
    logs val metrics. Returns the probes and one history row per seed and epoch, seed by seed.
    """
    both = np.concatenate([expert_feats, start_feats])
    mu, sigma = both.mean(0), both.std(0) + 1e-6
    # R̂(expert) − R̂(start) = ((x_e − μ)/σ − (x_s − μ)/σ)·w: linear in the scaled feature difference
    diff = torch.tensor((expert_feats - start_feats) / sigma, dtype=torch.float32)
    n, dim = diff.shape
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    weight = torch.stack([torch.empty(dim).normal_(0, 1 / np.sqrt(dim), generator=g) for g in generators])
    weight.requires_grad_()
    opt = torch.optim.Adam([weight], lr=lr, weight_decay=weight_decay)
    loss_fn = LOSSES[loss]
    snapshot = lambda: [LinearProbe(w.astype(np.float64), mu, sigma) for w in weight.detach().numpy()]  # noqa: E731
    history = [[] for _ in seeds]  # per seed, per epoch
    for epoch in range(1, epochs + 1):
        order = torch.stack([torch.randperm(n, generator=g) for g in generators])  # seeds × pairs
        total = torch.zeros(len(seeds))
        for idx in order.split(batch_size, dim=1):
            opt.zero_grad()  # the study's code never did: its gradients piled up
            per_seed = loss_fn((diff[idx] * weight[:, None, :]).sum(-1)).mean(1)
            per_seed.sum().backward()  # no weight is shared, so each seed gets its own gradient
            opt.step()
            total += per_seed.detach() * idx.shape[1]
        logged = on_epoch(epoch, snapshot()) if on_epoch is not None else [{}] * len(seeds)
        for rows, seed, t, extra in zip(history, seeds, total, logged):
            rows.append({"seed": seed, "epoch": epoch, "train_loss": float(t) / n, **extra})
    return snapshot(), [row for rows in history for row in rows]


def train_probe(expert_feats: np.ndarray, start_feats: np.ndarray, *, seed: int, on_epoch=None,
                **kwargs) -> tuple[LinearProbe, list[dict]]:
    """One seed of `train_probes`; `on_epoch(epoch, probe) -> dict`."""
    per_seed = None if on_epoch is None else (lambda epoch, probes: [on_epoch(epoch, probes[0])])
    probes, history = train_probes(expert_feats, start_feats, seeds=[seed], on_epoch=per_seed, **kwargs)
    return probes[0], [{k: v for k, v in row.items() if k != "seed"} for row in history]


def save_probes(path, probes: list[LinearProbe]) -> None:
    np.savez(path, weight=np.stack([p.weight for p in probes]), mu=probes[0].mu, sigma=probes[0].sigma)


def load_probes(path) -> list[LinearProbe]:
    z = np.load(path)
    return [LinearProbe(w, z["mu"], z["sigma"]) for w in z["weight"]]


# -- full fine-tuning on TRL's RewardTrainer ---------------------------------------------


@torch.inference_mode()
def score_texts(model, tokenizer, texts: list[str], *, max_length: int, batch_size: int = 32) -> np.ndarray:
    """Scalar rewards of a sequence-classification reward model."""
    was_training = model.training
    model.eval()
    out = np.zeros(len(texts))
    for idx, enc in length_batches(tokenizer, texts, max_length=max_length, batch_size=batch_size,
                                   device=model.device):
        out[idx] = model(**enc).logits[:, 0].float().cpu().numpy()
    model.train(was_training)
    return out


def _pairwise_reward_trainer():
    from trl import RewardTrainer

    class PairwiseRewardTrainer(RewardTrainer):
        """TRL's RewardTrainer with the pairwise loss swapped (`loss_name` in LOSSES)."""

        def __init__(self, *args, loss_name: str, **kwargs):
            super().__init__(*args, **kwargs)
            self.pairwise_loss = LOSSES[loss_name]

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs["use_cache"] = False
            outputs = model(**inputs)
            chosen, rejected = torch.chunk(outputs.logits.squeeze(-1), chunks=2)
            loss = self.pairwise_loss(chosen - rejected).mean()
            mode = "train" if self.model.training else "eval"
            with torch.no_grad():
                self._metrics[mode]["accuracy"].append((chosen > rejected).float().mean().item())
                self._metrics[mode]["margin"].append((chosen - rejected).mean().item())
            return (loss, outputs) if return_outputs else loss

    return PairwiseRewardTrainer


def train_full(start_folder: str, expert: list[str], start: list[str], *, loss: str, seed: int, cfg, out,
               on_epoch=None, desc: str = "reward model"):
    """Fine-tune the whole reward model (backbone + scalar head) on pairs; returns (model, tokenizer, history).

    Built on TRL's RewardTrainer, so `accelerate launch` scales it with no code change.
    """
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import RewardConfig

    from irlkit.models import load_reward_model
    from irlkit.progress import trainer_callback
    from irlkit.utils import progress_enabled, seed_everything

    ic = cfg.irl
    seed_everything(seed)
    model, tok = load_reward_model(start_folder, cfg.device)
    tok.truncation_side = "left"
    ids = lambda texts: [tok(t if t.strip() else tok.eos_token, truncation=True, max_length=ic.max_length)["input_ids"] for t in texts]  # noqa: E731
    dataset = Dataset.from_dict({"chosen_ids": ids(expert), "rejected_ids": ids(start)})
    history = []

    class EpochEval(TrainerCallback):
        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            if on_epoch is not None:
                history.append({"epoch": round(state.epoch), **on_epoch(round(state.epoch), model, tok)})

    args = RewardConfig(output_dir=str(out / "trainer"), num_train_epochs=ic.full_epochs, learning_rate=ic.full_lr,
                        per_device_train_batch_size=ic.batch_size, max_length=None, seed=seed, data_seed=seed,
                        logging_steps=10, save_strategy="no", report_to="none", bf16=False, fp16=False,
                        gradient_checkpointing=False, use_cpu=cfg.device == "cpu", disable_tqdm=not progress_enabled(cfg),
                        lr_scheduler_type="constant", center_rewards_coefficient=None, dataloader_num_workers=0)
    head = {n for n, _ in model.named_parameters() if not n.startswith(model.base_model_prefix + ".")}
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in model.named_parameters() if n not in head], "lr": ic.full_lr},
         {"params": [p for n, p in model.named_parameters() if n in head], "lr": ic.full_head_lr}], weight_decay=0.0)
    steps = math.ceil(len(expert) / ic.batch_size) * ic.full_epochs
    trainer = _pairwise_reward_trainer()(model=model, args=args, train_dataset=dataset, processing_class=tok,
                                         callbacks=[EpochEval(), trainer_callback(f"[irl full] {desc} {loss} seed {seed}", steps)],
                                         loss_name=loss, optimizers=(optimizer, None))
    trainer.train()
    return model, tok, history
