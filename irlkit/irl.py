"""Inverse RL of the reward: pairwise losses, reward models, probe and full trainers."""
from __future__ import annotations

import copy
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
EVAL_SETS = ("val_pool", "test_pool", "val_comments", "test_comments")
"""The text sets every reward model is scored on: the val/test pools (`text_pool`) and comments (`comment_pool`)."""


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
        hidden = backbone(**enc, use_cache=False).last_hidden_state.float()
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


def fit_label_free(preferred: np.ndarray, other: np.ndarray, val_preferred: np.ndarray, val_other: np.ndarray, *,
                   loss: str, seeds: list[int], **train) -> LinearProbe:
    """A probe fitted as 03 fits one (every seed of `seeds` on the pairs' features, `train_probes`' settings in
    `train`), its seed chosen label-free on the val pairs (`metrics.LABEL_FREE`)."""
    from irlkit import metrics

    probes, _ = train_probes(preferred, other, loss=loss, seeds=seeds, **train)
    return probes[metrics.label_free_best([metrics.label_free(p(val_preferred), p(val_other)) for p in probes])]


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

    from irlkit.models import head_parameters, load_reward_model
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
    head = set(head_parameters(model))
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in model.named_parameters() if n not in head], "lr": ic.full_lr},
         {"params": [p for n, p in model.named_parameters() if n in head], "lr": ic.full_head_lr}], weight_decay=0.0)
    steps = math.ceil(len(expert) / ic.batch_size) * ic.full_epochs
    trainer = _pairwise_reward_trainer()(model=model, args=args, train_dataset=dataset, processing_class=tok,
                                         callbacks=[EpochEval(), trainer_callback(f"[irl full] {desc} {loss} seed {seed}", steps)],
                                         loss_name=loss, optimizers=(optimizer, None))
    trainer.train()
    return model, tok, history


# -- full mode on the top blocks: the backbone's last blocks fine-tuned on cached inputs -------------


class _Stop(Exception):
    """Raised by `block_inputs`' hook: the blocks above the cut are not needed."""


def _layers(backbone) -> torch.nn.ModuleList:
    layers = getattr(backbone, "layers", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise TypeError(f"{type(backbone).__name__} keeps no `layers` ModuleList: irl.full_blocks > 0 needs one")
    return layers


@torch.inference_mode()
def block_inputs(backbone, tokenizer, texts: list[str], *, blocks: int, max_length: int,
                 batch_size: int = 32) -> list[torch.Tensor]:
    """The hidden states entering block L − `blocks` of `backbone`, one (tokens × d) tensor per text, its
    padding removed: what `TopBlocks` reads instead of tokens. The blocks above the cut are never run.
    (Positions restart from 0 in every batch; rotary attention depends on differences of positions only.)"""
    layer = _layers(backbone)[backbone.config.num_hidden_layers - blocks]
    captured = {}

    def hook(module, args, kwargs):
        captured["h"] = args[0] if args else kwargs["hidden_states"]
        raise _Stop

    out = [None] * len(texts)
    handle = layer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        for idx, enc in length_batches(tokenizer, texts, max_length=max_length, batch_size=batch_size,
                                       device=backbone.device):
            try:
                backbone(**enc, use_cache=False)
            except _Stop:
                pass
            lengths = enc["attention_mask"].sum(1).tolist()
            for row, j in enumerate(idx):
                out[j] = captured["h"][row, captured["h"].shape[1] - lengths[row]:].float().cpu().clone()
    finally:
        handle.remove()
    return out


def _pad_left(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    hidden = rows[0].new_zeros(len(rows), width, rows[0].shape[-1])
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        hidden[i, width - len(r):], mask[i, width - len(r):] = r, 1
    return hidden, mask


class TopBlocks(torch.nn.Module):
    """The last `blocks` blocks of a backbone (copies), its final norm and a scalar head on the last token:
    a reward model that reads `block_inputs` instead of tokens, so that training and scoring run only the
    top of the network. `write_into(reward_model)` puts the trained blocks and head back into the
    sequence-classification model they came from, which then scores raw text.

        top = TopBlocks(backbone, blocks=2, seed=0)
        rewards = top.score(block_inputs(backbone, tok, ["you idiot", "thanks"], blocks=2, max_length=48))
    """

    def __init__(self, backbone, blocks: int, seed: int):
        super().__init__()
        n = backbone.config.num_hidden_layers
        if not 0 < blocks <= n:
            raise ValueError(f"blocks must be in 1..{n} (the backbone's blocks), got {blocks}")
        cfg = copy.deepcopy(backbone.config)
        cfg.num_hidden_layers, cfg.use_cache = blocks, False
        if isinstance(getattr(cfg, "layer_types", None), (list, tuple)):
            cfg.layer_types = list(cfg.layer_types)[n - blocks:]  # attention kind of each kept block
        cfg.vocab_size, cfg.pad_token_id = 1, None  # tokens never enter: no embedding table to copy
        self.first = n - blocks
        self.top = type(backbone)(cfg)
        source = backbone.state_dict()
        state = {name: source[self._source_name(name)] for name, value in self.top.state_dict().items()
                 if self._source_name(name) in source and source[self._source_name(name)].shape == value.shape}
        missing = [k for k in self.top.state_dict() if k not in state and "emb" not in k]
        if missing:
            raise RuntimeError(f"TopBlocks: no weights for {missing[:5]} in {type(backbone).__name__}")
        self.top.load_state_dict(state, strict=False)
        d = backbone.config.hidden_size
        self.head = torch.nn.Linear(d, 1, bias=False)
        with torch.no_grad():
            self.head.weight.normal_(0, 1 / math.sqrt(d), generator=torch.Generator().manual_seed(seed))

    def _source_name(self, name: str) -> str:
        """The backbone's name of one of this module's weights (`layers.i.` is block `first + i` there)."""
        head, _, rest = name.partition(".")
        if head == "layers":
            i, _, rest = rest.partition(".")
            return f"layers.{self.first + int(i)}.{rest}"
        return name

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.top(inputs_embeds=hidden, attention_mask=mask, use_cache=False).last_hidden_state
        return self.head(out[:, -1]).squeeze(-1)

    @torch.inference_mode()
    def score(self, inputs: list[torch.Tensor], batch_size: int = 32) -> np.ndarray:
        was_training = self.training
        self.eval()
        out = np.zeros(len(inputs))
        order = np.argsort([len(x) for x in inputs], kind="stable")
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            out[idx] = self(*_pad_left([inputs[j] for j in idx])).float().numpy()
        self.train(was_training)
        return out

    @torch.no_grad()
    def write_into(self, reward_model) -> None:
        """Copy the trained blocks, final norm and head into `reward_model` (`load_reward_model`'s)."""
        base = getattr(reward_model, reward_model.base_model_prefix)
        target = base.state_dict()
        for name, value in self.top.state_dict().items():
            if self._source_name(name) in target and target[self._source_name(name)].shape == value.shape:
                target[self._source_name(name)].copy_(value)
        from irlkit.models import head_parameters

        heads = list(head_parameters(reward_model).values())
        if len(heads) != 1 or heads[0].shape != self.head.weight.shape:
            raise RuntimeError(f"expected one {tuple(self.head.weight.shape)} head in {type(reward_model).__name__}")
        heads[0].copy_(self.head.weight)


def train_top_blocks(backbone, expert: list[torch.Tensor], start: list[torch.Tensor], *, blocks: int, loss: str,
                     seed: int, epochs: int, lr: float, head_lr: float, batch_size: int, on_epoch=None,
                     desc: str = "reward model") -> tuple[TopBlocks, list[dict]]:
    """Fine-tune the last `blocks` blocks and a fresh head on pairs of `block_inputs` with a pairwise loss.

    The seed draws the head's initialisation and the batch order. Logs, per epoch, the mean training loss
    and the share of training pairs ranked the right way (R̂(expert) > R̂(start)) during the epoch, and
    whatever `on_epoch(epoch, model) -> dict` returns (validation metrics)."""
    from irlkit.progress import Counter

    model = TopBlocks(backbone, blocks, seed).train()
    opt = torch.optim.AdamW([{"params": model.top.parameters(), "lr": lr},
                             {"params": model.head.parameters(), "lr": head_lr}], weight_decay=0.0)
    g, n, loss_fn = torch.Generator().manual_seed(seed), len(expert), LOSSES[loss]
    counter = Counter(f"[irl full] {desc} {loss} seed {seed}", epochs * math.ceil(n / batch_size))
    history, step = [], 0
    for epoch in range(1, epochs + 1):
        total, right = 0.0, 0
        for idx in torch.randperm(n, generator=g).split(batch_size):
            r = model(*_pad_left([expert[i] for i in idx] + [start[i] for i in idx]))
            d = r[:len(idx)] - r[len(idx):]
            batch_loss = loss_fn(d).mean()
            opt.zero_grad()
            batch_loss.backward()
            opt.step()
            total += batch_loss.item() * len(idx)
            right += int((d > 0).sum())
            step += 1
            counter.update(step)
        history.append({"epoch": epoch, "train_loss": total / n, "train_pairwise_accuracy": right / n,
                        **(on_epoch(epoch, model) if on_epoch is not None else {})})
    return model, history
