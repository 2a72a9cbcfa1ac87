"""Every reward the study uses, behind one protocol: `score(texts) -> np.ndarray`, higher is better.

    true = JudgeReward(make_judge("toxblock"))                  # r* = −P_judge(toxic | text)
    probe = ProbeReward(backbone_folder, head, max_length=48)    # a linear head on frozen features (precision="bf16": of a bf16 backbone)
    full = FullReward(reward_model_folder, max_length=48)        # a fine-tuned sequence classifier
    reward = NormalizedReward(probe, val_texts, scale=0.25)      # z-scored on val texts, then scaled
    ensemble = RewardEnsemble([probe_a, probe_b], val_texts)     # mean of z-scored members
    control = ProbeReward(backbone_folder, random_probe(head, seed=1234), max_length=48)
    reward.score(["you are an idiot", "thank you"])              # array([-0.4, 0.3]) (say)

As in imitation's `RewardNet`, `NormalizedRewardNet` and `RewardEnsemble`: base rewards score text,
wrappers rescale or combine them and are rewards themselves. `irlkit.rlhf.reward_function` turns any
of them into the function TRL's trainers call.
"""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from irlkit.irl import LinearProbe, features, load_probes, score_texts


class RewardModel(Protocol):
    def score(self, texts: Sequence[str]) -> np.ndarray:
        """One scalar per text; higher means the text is more what the reward wants."""
        ...


class JudgeReward:
    """The ground-truth reward of RLHF and of evaluation: r*(x) = −P_judge(toxic | x)."""

    def __init__(self, judge):
        self.judge = judge
        self.name = f"neg_{judge.name}".replace("-", "_").replace(":", "_").replace("/", "_")

    def __repr__(self) -> str:
        return f"JudgeReward(−P_{self.judge.name}(toxic))"

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return -self.judge.score(list(texts))


class ProbeReward:
    """A linear head on the backbone's frozen features of the text (IRL's probe mode), computed in
    `precision` (the head's own: `irl.feature_precision`, what it was trained on)."""

    def __init__(self, backbone_folder: str, probe: LinearProbe, max_length: int, device: str = "cpu",
                 pooling: str = "last", precision: str = "fp32"):
        import torch

        from irlkit.models import load_backbone, load_tokenizer

        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        self.backbone = load_backbone(backbone_folder, device)
        if precision == "bf16":
            self.backbone.to(torch.bfloat16)
        self.precision = precision
        self.tokenizer = load_tokenizer(backbone_folder)
        self.probe, self.max_length, self.pooling = probe, max_length, pooling
        self.folder = backbone_folder

    def __repr__(self) -> str:
        return (f"ProbeReward({len(self.probe.weight)}-dim head on {self.pooling}-token {self.precision} features of "
                f"{self.folder}, ≤ {self.max_length} tokens)")

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.probe(features(self.backbone, self.tokenizer, list(texts), max_length=self.max_length,
                                   pooling=self.pooling))


class FullReward:
    """A fully fine-tuned reward model folder (IRL's full mode): backbone and scalar head."""

    def __init__(self, folder: str, max_length: int, device: str = "cpu"):
        from irlkit.models import load_reward_model

        self.model, self.tokenizer = load_reward_model(folder, device)
        self.model.eval()
        self.max_length, self.folder = max_length, folder

    def __repr__(self) -> str:
        return f"FullReward({self.folder}, ≤ {self.max_length} tokens)"

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return score_texts(self.model, self.tokenizer, list(texts), max_length=self.max_length)


class NormalizedReward:
    """`base` z-scored with its mean and sd on `reference_texts`, times `scale`.

    A pairwise loss fixes neither a reward's offset nor its scale, so every learned reward is put on one
    scale before RLOO meets it with the KL penalty (`refinetune.reward_scale`)."""

    def __init__(self, base: RewardModel, reference_texts: Sequence[str], scale: float = 1.0):
        ref = np.asarray(base.score(list(reference_texts)), dtype=float)
        self.base, self.mu, self.sd, self.scale = base, ref.mean(), ref.std() + 1e-8, scale
        self.n_reference = len(ref)

    def __repr__(self) -> str:
        return (f"NormalizedReward({self.base!r},\n  z-scored on {self.n_reference} reference texts "
                f"(mean {self.mu:.4g}, sd {self.sd:.4g}), × {self.scale:g})")

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.scale * (np.asarray(self.base.score(list(texts)), dtype=float) - self.mu) / self.sd


class RewardEnsemble:
    """The mean of several rewards, each z-scored on `reference_texts` first (seeds' scales differ)."""

    def __init__(self, members: Sequence[RewardModel], reference_texts: Sequence[str]):
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = [NormalizedReward(m, reference_texts) for m in members]

    def __repr__(self) -> str:
        return f"RewardEnsemble({len(self.members)} z-scored members)"

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.mean([m.score(texts) for m in self.members], axis=0)


def mean_head(probes: Sequence[LinearProbe]) -> LinearProbe:
    """The seed ensemble of linear heads on one backbone as one head: the mean of the unit-norm heads.
    Scores are linear in the head, so this scores every text as the mean of the unit-norm members
    does, with one pass of the backbone instead of one per seed."""
    weight = np.mean([p.weight / np.linalg.norm(p.weight) for p in probes], axis=0)
    return LinearProbe(weight, probes[0].mu, probes[0].sigma)


def random_probe(template: LinearProbe, seed: int) -> LinearProbe:
    """An untrained head, w ~ N(0, 1/d), on `template`'s feature standardisation: the random control."""
    rng = np.random.default_rng(seed)
    dim = len(template.weight)
    return LinearProbe(rng.normal(0, 1 / np.sqrt(dim), size=dim), template.mu, template.sigma)


def selected_reward(folder, mode: str, seed, backbone_folder: str, *, max_length: int, pooling: str = "last",
                    precision: str = "fp32", device: str = "cpu") -> RewardModel:
    """One reward model of an IRL model folder (`probe_model` or `full_model` stage): a full model's best seed
    (`best/`), or the probe of seed `seed` (`"ensemble"`: the mean of its seeds' unit heads, `mean_head`) on the
    frozen features of `backbone_folder`."""
    from pathlib import Path

    folder = Path(folder)
    if mode == "full":
        return FullReward(str(folder / "best"), max_length, device)
    probes = load_probes(folder / "probes.npz")
    probe = mean_head(probes) if seed == "ensemble" else probes[list(np.load(folder / "rewards.npz")["seeds"]).index(seed)]
    return ProbeReward(backbone_folder, probe, max_length, device, pooling, precision)
