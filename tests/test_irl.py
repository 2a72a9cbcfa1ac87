import numpy as np
import pytest
import torch

from irlkit import irl, metrics
from irlkit.irl import TopBlocks


def test_losses_at_known_points():
    d = torch.tensor([-1.0, 0.0, 2.0])
    assert irl.max_margin(d).tolist() == [2.0, 0.0, -2.0]  # −d when d > 0, −2d when d < 0
    assert irl.hinge(d).tolist() == [2.0, 1.0, 0.0]
    assert irl.logistic(torch.tensor([0.0])).item() == pytest.approx(np.log(2))


def _separable(n=200, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim)
    start = rng.normal(size=(n, dim))
    expert = start + 0.5 * direction + rng.normal(scale=0.1, size=(n, dim))
    return expert, start


@pytest.mark.parametrize("loss", sorted(irl.LOSSES))
def test_probe_loss_falls_and_separates_separable_pairs(loss):
    expert, start = _separable()
    probe, history = irl.train_probe(expert, start, loss=loss, seed=0, epochs=20, lr=1e-2, batch_size=16,
                                     on_epoch=lambda e, p: {"acc": metrics.pairwise_accuracy(p(expert), p(start))})
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["acc"] == 1.0


def test_probe_same_seed_same_weights_other_seed_differs():
    expert, start = _separable()
    kw = dict(loss="logistic", epochs=3, lr=1e-2, batch_size=16)
    a, _ = irl.train_probe(expert, start, seed=1, **kw)
    b, _ = irl.train_probe(expert, start, seed=1, **kw)
    c, _ = irl.train_probe(expert, start, seed=2, **kw)
    assert np.array_equal(a.weight, b.weight) and not np.array_equal(a.weight, c.weight)


def test_seeds_trained_together_end_where_each_ends_alone():
    # 03 trains all seeds of a sweep side by side; a seed must not feel the others.
    rng = np.random.default_rng(0)
    expert, start = rng.normal(size=(60, 32)).astype(np.float32), rng.normal(size=(60, 32)).astype(np.float32)
    kw = dict(loss="hinge", epochs=4, lr=1e-2, batch_size=8, weight_decay=1e-3)
    together, history = irl.train_probes(expert, start, seeds=[5, 6, 7], **kw)
    for seed, probe in zip([5, 6, 7], together):
        alone, alone_history = irl.train_probe(expert, start, seed=seed, **kw)
        assert np.allclose(probe.weight, alone.weight, rtol=1e-5, atol=1e-7)
        assert [r["train_loss"] for r in history if r["seed"] == seed] == pytest.approx(
            [r["train_loss"] for r in alone_history], rel=1e-5)
    assert not np.allclose(together[0].weight, together[1].weight)
    assert [(r["seed"], r["epoch"]) for r in history][:5] == [(5, 1), (5, 2), (5, 3), (5, 4), (6, 1)]


def test_max_margin_has_no_scale_logistic_does():
    expert, start = _separable()
    mm, h_mm = irl.train_probe(expert, start, loss="max_margin", seed=0, epochs=30, lr=1e-2, batch_size=16)
    lg, _ = irl.train_probe(expert, start, loss="logistic", seed=0, epochs=30, lr=1e-2, batch_size=16)
    # the study's loss keeps growing the reward's scale on separable data (unbounded below)
    assert h_mm[-1]["train_loss"] < -1 and np.linalg.norm(mm.weight) > np.linalg.norm(lg.weight)


def test_full_mode_learns_separable_pairs(data_home, tmp_path):
    """Full fine-tuning on TRL's RewardTrainer must rank held-in expert texts above start texts."""
    from irlkit import config, models

    cfg = config.load("smoke", **{"irl.full_epochs": 4, "irl.batch_size": 4})
    expert = [f"thank you kindly friend number {i}" for i in range(16)]
    start = [f"shut up you stupid idiot number {i}" for i in range(16)]
    model, tok, _ = irl.train_full(models.materialise("tiny:0"), expert, start, loss="logistic", seed=0, cfg=cfg,
                                   out=tmp_path)
    r_expert = irl.score_texts(model, tok, expert, max_length=32)
    r_start = irl.score_texts(model, tok, start, max_length=32)
    assert (r_expert > r_start).mean() == 1.0


def test_probe_on_one_thread_matches_two_and_threads_are_restored():
    # 03 trains probes on one thread (faster); the weights must be those of the default two.
    from irlkit.utils import torch_threads

    rng = np.random.default_rng(0)
    expert, start = rng.normal(size=(200, 256)).astype(np.float32), rng.normal(size=(200, 256)).astype(np.float32)
    kw = dict(loss="logistic", seed=3, epochs=3, lr=1e-2, batch_size=8)
    before = torch.get_num_threads()
    with torch_threads(2):
        two, _ = irl.train_probe(expert, start, **kw)
    with torch_threads(1):
        assert torch.get_num_threads() == 1
        one, _ = irl.train_probe(expert, start, **kw)
    assert np.array_equal(one.weight, two.weight)
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("the count comes back even on an error")
    assert torch.get_num_threads() == before


def test_max_margin_seeds_agree_because_adam_drives_them_to_one_direction_not_because_the_reward_is_identified():
    """Seed agreement of probes is a property of the optimiser. On synthetic pairs whose true reward is
    a random direction u, max-margin with Adam sends every seed to nearly the same head, aligned with the
    standardised mean difference of the pair features, whatever u is: a second data set with the same
    mean difference but another true direction gets the same head. Seeds agree (ρ ≈ 1) in both."""
    rng = np.random.default_rng(0)
    n, dim = 400, 16
    start = rng.normal(size=(n, dim))
    shift = np.zeros(dim)
    shift[0] = 0.5
    heads = []
    for noise_direction in (1, 2):  # two data sets: the same mean difference, different other structure
        expert = start + shift + 0.3 * rng.normal(size=(n, dim)) * (np.arange(dim) == noise_direction)
        probes, _ = irl.train_probes(expert, start, loss="max_margin", seeds=list(range(5)), epochs=30, lr=1e-2,
                                     batch_size=8)
        w = np.stack([p.weight / np.linalg.norm(p.weight) for p in probes])
        assert (w @ w.T).min() > 0.99, "every seed ends at the same direction"
        mean_diff = ((expert - start) / probes[0].sigma).mean(0)
        assert w[0] @ (mean_diff / np.linalg.norm(mean_diff)) > 0.95, "and it is the standardised mean difference"
        heads.append(w[0])
    assert heads[0] @ heads[1] > 0.95


def _tiny_backbone():
    from irlkit import models

    folder = models.materialise("tiny:1")  # three blocks
    return folder, models.load_backbone(folder), models.load_tokenizer(folder)


def test_top_blocks_on_cached_inputs_equal_the_whole_backbone(data_home):
    """Running only the last blocks on `block_inputs` must give the whole model's reward: the final hidden
    state at the last token through the same head, whatever the padding of the batch."""
    _, backbone, tok = _tiny_backbone()
    texts = ["you are a kind person", "no", "shut up you stupid idiot, nobody asked you anything at all"]
    for blocks in (1, 2, 3):
        top = TopBlocks(backbone, blocks, seed=0)
        cached = irl.block_inputs(backbone, tok, texts, blocks=blocks, max_length=32)
        assert [len(c) for c in cached] == [len(tok(t)["input_ids"]) for t in texts]
        whole = irl.features(backbone, tok, texts, max_length=32) @ top.head.weight.detach().numpy()[0]
        np.testing.assert_allclose(top.score(cached), whole, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(top.score(cached, batch_size=1), whole, rtol=1e-4, atol=1e-5)


def test_top_blocks_train_above_chance_and_write_into_a_reward_model_that_scores_raw_text(data_home):
    from irlkit import models

    folder, backbone, tok = _tiny_backbone()
    expert = [f"thank you kindly friend number {i}" for i in range(16)]
    start = [f"shut up you stupid idiot number {i}" for i in range(16)]
    cache = lambda t: irl.block_inputs(backbone, tok, t, blocks=2, max_length=32)  # noqa: E731
    top, history = irl.train_top_blocks(backbone, cache(expert), cache(start), blocks=2, loss="logistic", seed=0,
                                        epochs=4, lr=1e-3, head_lr=1e-2, batch_size=4)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["train_pairwise_accuracy"] == 1.0
    again, _ = irl.train_top_blocks(backbone, cache(expert), cache(start), blocks=2, loss="logistic", seed=0,
                                    epochs=4, lr=1e-3, head_lr=1e-2, batch_size=4)
    np.testing.assert_array_equal(again.score(cache(expert)), top.score(cache(expert)))  # same seed, same model
    reward_model, rtok = models.load_reward_model(folder)
    top.write_into(reward_model)
    np.testing.assert_allclose(irl.score_texts(reward_model, rtok, expert + start, max_length=32),
                               top.score(cache(expert + start)), rtol=1e-4, atol=1e-5)


def test_the_feature_precision_switch_bf16_features_are_close_and_fp32_features_are_unchanged(data_home, monkeypatch):
    """The features stage with `irl.feature_precision` fp32 gives exactly the fp32 backbone's features; bf16
    gives fp32 arrays close to them but not equal, cached under its own key (switching rebuilds, never mixes)."""
    from irlkit import config, models, stages
    from irlkit.stages import graph, recovery

    texts = {"train_expert": ["you are kind", "what a day"], "train_start": ["you idiot", "go away now"],
             "val_pool": ["a text to score", "another"], "test_pool": ["the last one", "x"]}
    monkeypatch.setattr(recovery, "texts", lambda ctx, demos: texts)
    folder = models.materialise("tiny:0")
    backbone, tok = models.load_backbone(folder), models.load_tokenizer(folder)
    expected = {k: irl.features(backbone, tok, v, max_length=32) for k, v in texts.items()}

    by_precision = {}
    for precision in ("fp32", "bf16"):
        ctx = stages.Context(config.load("smoke", **{"irl.feature_precision": precision}))
        graph.build(ctx, "demos", lambda tmp: None, upstream=[], size="tiny-a")  # stands in for 02's (no reads differ)
        by_precision[precision] = dict(np.load(recovery.features(ctx, "tiny-a", demos=None) / "features.npz"))
    for name, want in expected.items():
        np.testing.assert_array_equal(by_precision["fp32"][name], want)
        got = by_precision["bf16"][name]
        assert got.dtype == np.float32 and not np.array_equal(got, want)
        cosine = np.sum(got * want, 1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
        assert cosine.min() > 0.99, (name, cosine)


def test_the_full_input_precision_switch_casts_only_the_blocks_below_the_cut(data_home, monkeypatch, tmp_path):
    """Full mode with `irl.full_input_precision` bf16 computes the cached inputs with a bf16 copy of the
    backbone, while the top blocks it trains copy the fp32 weights; fp32 uses the fp32 backbone for both."""
    import torch

    from irlkit import config, stages
    from irlkit.stages import graph, recovery

    texts = {"train_expert": ["you are kind"], "train_start": ["you idiot"], "val_pool": ["a text"]}
    monkeypatch.setattr(recovery, "texts", lambda ctx, demos: dict(texts))
    seen, original = {}, irl.block_inputs

    class Stop(Exception):
        pass

    def inputs(backbone, tok, batch, **kw):
        seen.setdefault("inputs", set()).add(next(backbone.parameters()).dtype)
        return original(backbone, tok, batch, **kw)

    def train(backbone, *args, **kw):
        seen["train"] = next(backbone.parameters()).dtype
        raise Stop

    monkeypatch.setattr(recovery.irl, "block_inputs", inputs)
    monkeypatch.setattr(recovery.irl, "train_top_blocks", train)
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        seen.clear()
        ctx = stages.Context(config.load("smoke", **{"irl.full_input_precision": precision}))
        with pytest.raises(Stop):
            recovery._top_blocks_builder(ctx, "tiny-a", None, None, "max_margin")(tmp_path)
        assert seen == {"inputs": {dtype}, "train": torch.float32}
    assert "irl.full_input_precision" in graph.STAGES["full_model"].reads  # in the full models' keys only
    assert "irl.full_input_precision" not in graph.STAGES["probe_model"].reads + graph.STAGES["features"].reads
    with pytest.raises(ValueError):
        config.load("smoke", **{"irl.full_input_precision": "fp16"})
