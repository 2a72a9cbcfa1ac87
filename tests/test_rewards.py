"""The rewards behind one protocol: known answers on synthetic features and a stub judge."""
import numpy as np
import pytest

from irlkit import irl, rewards, rlhf


class StubJudge:
    name = "stub-judge"

    def score(self, texts):
        return np.array([0.9 if "idiot" in t else 0.1 for t in texts], dtype=np.float32)


class Lookup:
    """A reward that reads a number from a table: scores are known exactly."""

    def __init__(self, table):
        self.table = table

    def score(self, texts):
        return np.array([self.table[t] for t in texts], dtype=float)


def test_judge_reward_is_minus_p_toxic_and_feeds_trl_with_the_studys_baseline():
    judge = rewards.JudgeReward(StubJudge())
    assert judge.score(["you idiot", "thanks"]).tolist() == pytest.approx([-0.9, -0.1])
    fn = rlhf.reward_function(judge)
    assert fn.__name__ == "neg_stub_judge"
    assert fn(prompts=["a", "b"], completions=["you idiot", "thanks"]) == pytest.approx([-0.9, -0.1])
    with_baseline = rlhf.reward_function(judge, baseline=True)  # P(original) − P(completion)
    assert with_baseline(prompts=["a"], completions=["thanks"], original_output=["idiot"]) == pytest.approx([0.8])


def test_normalized_reward_has_mean_zero_and_sd_scale_on_its_reference_texts():
    base = Lookup({"a": 1.0, "b": 3.0, "c": 5.0, "d": 100.0})
    reward = rewards.NormalizedReward(base, ["a", "b", "c"], scale=0.25)
    ref = reward.score(["a", "b", "c"])
    assert ref.mean() == pytest.approx(0) and ref.std() == pytest.approx(0.25, rel=1e-6)
    assert reward.score(["d"])[0] == pytest.approx(0.25 * (100 - 3) / np.std([1, 3, 5]), rel=1e-6)


def test_ensemble_is_the_mean_of_z_scored_members():
    a = Lookup({"x": 0.0, "y": 1.0, "z": 2.0})
    b = Lookup({"x": 10.0, "y": 30.0, "z": 20.0})
    ensemble = rewards.RewardEnsemble([a, b], ["x", "y", "z"])
    z = lambda v: (np.array(v) - np.mean(v)) / np.std(v)  # noqa: E731
    assert ensemble.score(["x", "y", "z"]) == pytest.approx((z([0, 1, 2]) + z([10, 30, 20])) / 2, abs=1e-6)
    with pytest.raises(ValueError):
        rewards.RewardEnsemble([], ["x"])


def test_mean_head_scores_as_the_mean_of_unit_norm_heads():
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=8), rng.uniform(0.5, 2, size=8)
    heads = [irl.LinearProbe(rng.normal(size=8) * s, mu, sigma) for s in (0.1, 1.0, 7.0)]
    feats = rng.normal(size=(20, 8))
    unit = [irl.LinearProbe(h.weight / np.linalg.norm(h.weight), mu, sigma) for h in heads]
    assert rewards.mean_head(heads)(feats) == pytest.approx(np.mean([u(feats) for u in unit], axis=0))


def test_random_head_is_deterministic_per_seed_and_keeps_the_standardisation():
    template = irl.LinearProbe(np.ones(64), np.zeros(64), np.ones(64) * 2)
    a, b, c = (rewards.random_probe(template, s) for s in (1234, 1234, 1235))
    assert np.array_equal(a.weight, b.weight) and not np.array_equal(a.weight, c.weight)
    assert a.sigma is template.sigma and abs(np.std(a.weight) - 1 / 8) < 0.05


def test_a_probe_reward_scores_the_features_of_its_own_precision(data_home):
    """`ProbeReward(precision=…)` is the head on the features `irl.features` gives a backbone in that precision:
    bf16 is what a head trained on bf16 features (`irl.feature_precision`) reads, fp32 is unchanged."""
    import torch

    from irlkit import models

    folder = models.materialise("tiny:0")
    backbone, tok = models.load_backbone(folder), models.load_tokenizer(folder)
    texts = ["you are kind", "shut up you idiot", "what a day it was"]
    dim = backbone.config.hidden_size
    head = rewards.random_probe(irl.LinearProbe(np.ones(dim), np.zeros(dim), np.ones(dim)), seed=0)
    fp32 = head(irl.features(backbone, tok, texts, max_length=32))
    bf16 = head(irl.features(backbone.to(torch.bfloat16), tok, texts, max_length=32))
    np.testing.assert_array_equal(rewards.ProbeReward(folder, head, 32).score(texts), fp32)
    np.testing.assert_array_equal(rewards.ProbeReward(folder, head, 32, precision="bf16").score(texts), bf16)
    assert not np.array_equal(bf16, fp32)
    np.testing.assert_allclose(bf16, fp32, atol=0.1 * np.abs(fp32).max())
    with pytest.raises(ValueError):
        rewards.ProbeReward(folder, head, 32, precision="fp16")
