"""The one-pass RLOO trainer against TRL's own, and bf16 RLOO against fp32, on a tiny model."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from irlkit import config, models, rlhf


def test_leave_one_out_mean_on_known_groups():
    values = torch.tensor([1.0, 2.0, 6.0, 10.0, 20.0])
    group = torch.tensor([0, 0, 0, 1, 1])
    assert rlhf.leave_one_out_mean(values, group).tolist() == [4.0, 3.5, 1.5, 20.0, 10.0]


def _reward(prompts, completions, **_):
    """Deterministic and spread out: the share of vowels."""
    return [sum(ch in "aeiou" for ch in c) / max(len(c), 1) for c in completions]


def _train(tmp_path, one_pass: bool, precision: str = "fp32", completion_logprobs_only: bool = True, **rlhf_fields):
    cfg = config.load("smoke", **{"rlhf.steps": 3, "rlhf.one_pass": one_pass, "rlhf.learning_rate": 1e-3,
                                  "rlhf.precision": precision,
                                  "rlhf.completion_logprobs_only": completion_logprobs_only,
                                  **{f"rlhf.{k}": v for k, v in rlhf_fields.items()}})
    prompts = pd.DataFrame({"prompt": [f"you are number {i} and" for i in range(8)],
                            "original_output": ["fine"] * 8})
    out = tmp_path / "-".join([f"{'one-pass' if one_pass else 'trl'}", precision, str(completion_logprobs_only),
                               *(f"{k}={v}" for k, v in rlhf_fields.items())])
    out.mkdir()
    start = models.materialise("tiny:0")
    rlhf.train(start, prompts, _reward, cfg.rlhf, out, max_new_tokens=cfg.sampling.max_new_tokens, seed=cfg.seed)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [row for row in log if "kl" in row]
    return start, load_file(str(out / "model.safetensors")), steps


def test_one_pass_rloo_takes_the_same_steps_as_trl(data_home, tmp_path):
    start, ours, our_log = _train(tmp_path, one_pass=True)
    _, theirs, their_log = _train(tmp_path, one_pass=False)
    initial = load_file(str(Path(start) / "model.safetensors"))
    moved = {k: (theirs[k] - initial[k]).norm() for k in theirs if k in initial}
    assert sum(moved.values()) > 0  # the policy moved, so the comparison below has something to compare
    for key in moved:
        gap = (ours[key] - theirs[key]).norm()
        assert gap <= 1e-3 * moved[key] + 1e-7, key
    assert [r["step"] for r in our_log] == [r["step"] for r in their_log]
    for a, b in zip(our_log, their_log):
        assert a["reward"] == pytest.approx(b["reward"], abs=1e-6)
        assert a["kl"] == pytest.approx(b["kl"], abs=1e-5)


def test_completion_logprobs_only_projects_fewer_rows_and_takes_the_same_steps(data_home, tmp_path, monkeypatch):
    import trl.trainer.utils as trl_utils

    apply, rows = trl_utils._ChunkedLogProbFunction.apply, []

    def spy(hidden, *args):
        rows.append(hidden.shape[0])
        return apply(hidden, *args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", spy)
    _, ours, our_log = _train(tmp_path, one_pass=True, completion_logprobs_only=True)
    our_rows, rows[:] = list(rows), []
    _, theirs, their_log = _train(tmp_path, one_pass=True, completion_logprobs_only=False)
    assert len(our_rows) == len(rows) > 0
    assert all(ours_n < theirs_n for ours_n, theirs_n in zip(our_rows, rows))  # prompt positions skipped
    for key in theirs:
        assert torch.allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-6), key
    for a, b in zip(our_log, their_log, strict=True):
        assert a["reward"] == pytest.approx(b["reward"], abs=1e-6)
        assert a["kl"] == pytest.approx(b["kl"], abs=1e-5)


def test_one_pass_rloo_refuses_settings_it_does_not_cover(data_home, tmp_path):
    from datasets import Dataset
    from trl import RLOOConfig

    assert config.load("cpu").rlhf.one_pass  # the profiles use it
    policy, tok = models.load_policy(models.materialise("tiny:0"))
    args = RLOOConfig(output_dir=str(tmp_path), num_iterations=2, per_device_train_batch_size=4, num_generations=2,
                      beta=0.05, use_cpu=True, bf16=False, report_to="none", max_steps=1)
    dataset = Dataset.from_dict({"prompt": ["hi there"] * 4})
    with pytest.raises(ValueError, match="one optimiser step per generation batch"):
        rlhf._one_pass_rloo_trainer()(model=policy, reward_funcs=_reward, args=args, train_dataset=dataset,
                                      processing_class=tok)


def test_bf16_rloo_samples_with_a_fresh_bf16_copy_and_keeps_fp32_weights(data_home, tmp_path, monkeypatch):
    from transformers import GenerationMixin

    generate, sampler_weights = GenerationMixin.generate, []

    def spy(self, *args, **kwargs):
        sampler_weights.append(self.get_input_embeddings().weight.detach().clone())
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(GenerationMixin, "generate", spy)
    start, bf16, _ = _train(tmp_path, one_pass=True, precision="bf16")
    initial = load_file(str(Path(start) / "model.safetensors"))
    embedding = next(k for k in initial if "embed_in" in k)
    assert [w.dtype for w in sampler_weights] == [torch.bfloat16] * 3  # one batch of completions per step
    assert torch.equal(sampler_weights[0], initial[embedding].to(torch.bfloat16))
    assert not torch.equal(sampler_weights[1], sampler_weights[0])  # refreshed from the policy every step
    assert not torch.equal(sampler_weights[2], sampler_weights[1])
    assert all(t.dtype == torch.float32 for t in bf16.values())  # master weights stay fp32
    sampler_weights.clear()
    _, fp32, _ = _train(tmp_path, one_pass=True, precision="fp32")
    assert [w.dtype for w in sampler_weights] == [torch.float32] * 3
    moved = sum((fp32[k] - initial[k]).norm() for k in initial)
    assert sum((bf16[k] - initial[k]).norm() for k in initial) > 0.5 * moved  # it trains as far


def test_frozen_embeddings_stay_at_the_start_and_the_rest_trains(data_home, tmp_path, monkeypatch):
    from transformers import GenerationMixin

    generate, sampler_embeddings = GenerationMixin.generate, []

    def spy(self, *args, **kwargs):
        sampler_embeddings.append(self.get_input_embeddings().weight.detach().float().clone())
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(GenerationMixin, "generate", spy)
    start, frozen, _ = _train(tmp_path, one_pass=True, precision="bf16", freeze_embeddings=True)
    initial = load_file(str(Path(start) / "model.safetensors"))
    embedding = next(k for k in initial if "embed_in" in k)
    assert torch.equal(frozen[embedding], initial[embedding])
    assert all(torch.equal(e, initial[embedding].to(torch.bfloat16).float()) for e in sampler_embeddings)
    moved = [k for k in initial if k != embedding and not torch.equal(frozen[k], initial[k])]
    assert len(moved) > len(initial) // 2  # the blocks (and the untied output head) still train


def test_compiled_head_takes_the_same_steps_up_to_rounding(data_home, tmp_path, monkeypatch):
    import trl.kernels.chunked_logprob as kernel

    eager_tiles = (kernel._forward_tile, kernel._backward_tile)
    calls = []
    monkeypatch.setattr(rlhf, "_compiled_tiles", lambda *tiles: (calls.append(tiles) or rlhf.torch.compile(
        tiles[0], dynamic=True), rlhf.torch.compile(tiles[1], dynamic=True)))
    start, compiled, compiled_log = _train(tmp_path, one_pass=True, compiled_head=True)
    assert calls == [eager_tiles] and (kernel._forward_tile, kernel._backward_tile) == eager_tiles  # put back
    _, eager, eager_log = _train(tmp_path, one_pass=True, compiled_head=False)
    initial = load_file(str(Path(start) / "model.safetensors"))
    moved = {k: (eager[k] - initial[k]).norm() for k in initial}
    assert sum(moved.values()) > 0
    for key in moved:
        assert (compiled[key] - eager[key]).norm() <= 1e-3 * moved[key] + 1e-6, key
    for a, b in zip(compiled_log, eager_log):
        assert a["kl"] == pytest.approx(b["kl"], abs=1e-4)


def test_the_compiled_cpu_head_in_bf16_matches_trls_to_rounding():
    """Under autocast, a frozen head through `_cpu_vocab_head(compiled=True)` (cast to bf16 once, compiled folds):
    log-probabilities, entropies and the hidden states' gradient agree with TRL's eager folds to rounding."""
    import trl.trainer.utils as trl_utils

    torch.manual_seed(0)
    tokens, width, vocab = 48, 64, 5000
    weight = torch.nn.Parameter(torch.randn(vocab, width) * 0.1, requires_grad=False)
    targets, hidden = torch.randint(0, vocab, (tokens,)), torch.randn(tokens, width)

    def head(compiled: bool):
        with rlhf._cpu_vocab_head(compiled):
            h = hidden.clone().requires_grad_(True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logp, entropy, *_ = trl_utils._ChunkedLogProbFunction.apply(h, weight, None, targets, 1.0, 1024, None,
                                                                            1.0, ("entropy",))
            (logp.sum() + 0.1 * entropy.sum()).backward()
        return logp.detach(), entropy.detach(), h.grad

    trl, ours = head(False), head(True)
    assert torch.allclose(ours[0], trl[0], atol=1e-4) and torch.allclose(ours[1], trl[1], atol=1e-4)
    assert ((ours[2] - trl[2]).norm() / trl[2].norm()).item() < 1e-4


def test_the_trl_internals_irlkit_patches_are_still_there():
    """irlkit overrides four methods of TRL's RLOOTrainer and reads `trl.trainer.utils._use_triton`. A TRL
    that renames them, changes their leading parameters or stops routing the fused head through
    `_use_triton` would silently drop a patch: this fails instead, naming what moved."""
    import inspect

    import trl
    import trl.trainer.utils as trl_utils
    from trl import RLOOTrainer

    from irlkit.rlhf import PATCHED

    assert trl.__version__ == "1.16.0", f"irlkit's patches were written against TRL 1.16.0, found {trl.__version__}"
    for name, leading in PATCHED.items():
        method = getattr(RLOOTrainer, name, None)
        assert method is not None, f"RLOOTrainer.{name} is gone"
        params = tuple(inspect.signature(method).parameters)[:len(leading)]
        assert params == leading, f"RLOOTrainer.{name} now takes {params}, irlkit expects {leading}"
    assert "device" in inspect.signature(trl_utils._use_triton).parameters
    assert "_use_triton(" in inspect.getsource(trl_utils.add_fused_lm_head), "the fused head no longer asks _use_triton"
    assert "_generate_single_turn(" in inspect.getsource(RLOOTrainer), "RLOO no longer samples in _generate_single_turn"
    import trl.kernels.chunked_logprob as kernel  # rlhf._cpu_vocab_head swaps these

    assert "_ChunkedLogProbFunction.apply(" in inspect.getsource(trl_utils.add_fused_lm_head)
    source = inspect.getsource(kernel.ChunkedLogProbFunction)
    assert "else _forward_tile" in source and "else _backward_tile" in source, "the CPU folds are no longer used"


def test_torch_multinomial_is_patched_only_while_completions_are_sampled():
    import torch

    from irlkit import rlhf

    original = torch.multinomial
    seen = []

    class Sampler:
        def _generate_single_turn(self, *args, **kwargs):
            seen.append(torch.multinomial is not original)
            return "sampled"

    trainer = type("T", (rlhf._InverseCdfSampling, Sampler), {})()
    assert trainer._generate_single_turn() == "sampled" and seen == [True]
    assert torch.multinomial is original, "restored after sampling"


def test_scoping_the_multinomial_patch_to_sampling_changes_no_weight(tmp_path):
    """The patch used to be held for the whole of training; held only while sampling, RLOO must train
    the same policy to the bit (multinomial is drawn nowhere else)."""
    import dataclasses
    import hashlib

    from irlkit import config, data, models, rlhf, sampling
    from irlkit.judges import make_judge
    from irlkit.rewards import JudgeReward

    cfg = config.load("smoke", progress=False)
    start = models.materialise(cfg.sizes[0].start)
    prompts = data.split_of(data.load_prompts(cfg), "train")
    fn = rlhf.reward_function(JudgeReward(make_judge("toxblock")))
    rc = cfg.rlhf_for(cfg.sizes[0].name)
    rlhf.train(start, prompts, fn, rc, tmp_path / "scoped", max_new_tokens=cfg.sampling.max_new_tokens, seed=cfg.seed)
    with sampling.inverse_cdf_sampling(True):
        rlhf.train(start, prompts, fn, dataclasses.replace(rc, inverse_cdf_sampling=False), tmp_path / "global",
                   max_new_tokens=cfg.sampling.max_new_tokens, seed=cfg.seed)
    digest = lambda k: hashlib.sha256((tmp_path / k / "model.safetensors").read_bytes()).hexdigest()  # noqa: E731
    assert digest("scoped") == digest("global")


def test_lora_rloo_trains_adapters_only_and_saves_a_merged_policy(tmp_path):
    """`rlhf.lora_rank` > 0: RLOO through TRL's peft_config. Only the adapted projections move (merged into
    the saved weights); every other weight is the start checkpoint's, and the policy loads as any other."""
    import dataclasses

    import torch

    from irlkit import config, data, models, rlhf
    from irlkit.judges import make_judge
    from irlkit.rewards import JudgeReward

    cfg = config.load("smoke", progress=False, **{"eval.path_every": 0}, rlhf={"lora_rank": 4, "lora_targets": ("query_key_value",),
                                                     "learning_rate": 1e-2, "precision": "fp32"})
    start = models.materialise(cfg.sizes[0].start)
    prompts = data.split_of(data.load_prompts(cfg), "train")
    rc = cfg.rlhf_for(cfg.sizes[0].name)
    rlhf.train(start, prompts, rlhf.reward_function(JudgeReward(make_judge("toxblock"))), rc, tmp_path / "lora",
               max_new_tokens=cfg.sampling.max_new_tokens, seed=cfg.seed)
    before, _ = models.load_policy(start)
    after, _ = models.load_policy(str(tmp_path / "lora"))
    a, b = before.state_dict(), after.state_dict()
    moved = {k for k in a if not torch.equal(a[k], b[k])}
    assert moved and all("query_key_value.weight" in k for k in moved), sorted(moved)[:5]
    assert not any("lora" in k for k in b), "adapters merged, none left in the saved policy"
    assert dataclasses.asdict(rc)["lora_rank"] == 4


def test_a_measured_path_leaves_training_as_it_was_and_records_its_steps(data_home, tmp_path):
    """`rlhf.train(measure=...)` (05's toxicity–KL path) draws its own random numbers: the same weights and log
    as a run without it, and one point at step 0, every `measure_every` steps and at the last."""
    cfg = config.load("smoke", **{"rlhf.steps": 3, "rlhf.learning_rate": 1e-3})
    prompts = pd.DataFrame({"prompt": [f"you are number {i} and" for i in range(8)], "original_output": ["fine"] * 8})
    start = models.materialise("tiny:0")

    def measure(model, step):
        noise = torch.rand(1000)  # a measurement that draws from torch's stream, as sampling does
        return {"step": step, "noise": float(noise.mean()), "norm": float(sum(p.detach().norm() for p in model.parameters()))}

    given = {"step": 0, "measured": "before, once"}
    runs = {}
    for name, kw in (("plain", {}), ("measured", {"measure": measure, "measure_every": 2}),
                     ("given start", {"measure": measure, "measure_every": 2, "first_point": given})):
        out = tmp_path / name
        out.mkdir()
        summary = rlhf.train(start, prompts, _reward, cfg.rlhf, out, max_new_tokens=cfg.sampling.max_new_tokens,
                             seed=cfg.seed, **kw)
        runs[name] = (load_file(str(out / "model.safetensors")), (out / "log.jsonl").read_text(), rlhf.read_path(out),
                      summary)
    plain, measured = runs["plain"], runs["measured"]
    for key in plain[0]:
        assert torch.equal(plain[0][key], measured[0][key]), key
    strip = lambda log: [{k: v for k, v in json.loads(r).items() if not any(t in k for t in ("time", "runtime", "per_second"))}  # noqa: E731
                         for r in log.splitlines()]
    assert strip(plain[1]) == strip(measured[1])
    assert plain[2] == [] and [p["step"] for p in measured[2]] == [0, 2, 3]
    assert measured[2][0]["norm"] != measured[2][-1]["norm"]  # each point saw the policy of its step
    assert "path_seconds" in measured[3] and "path_seconds" not in plain[3]
    assert runs["given start"][2] == [given, *measured[2][1:]]  # the start's point written, not measured again
    assert all(torch.equal(plain[0][key], runs["given start"][0][key]) for key in plain[0])


def test_the_start_measured_once_is_the_step_0_point_of_every_run(data_home, tmp_path):
    """`stages.policies.start_point` (stage `path_start`) stands for the point each run would measure at step 0."""
    from irlkit import data, stages
    from irlkit.stages.policies import ValPath, start_point

    ctx = stages.Context(config.load("smoke", **{"rlhf.steps": 1}), 0)
    _, first = start_point(ctx, "tiny-a")
    out = tmp_path / "run"
    out.mkdir()
    rlhf.train(ctx.start("tiny-a"), data.split_of(ctx.prompts, "train"), _reward, ctx.cfg.rlhf_for("tiny-a"), out,
               max_new_tokens=ctx.cfg.sampling.max_new_tokens, seed=ctx.cfg.seed, measure=ValPath(ctx, "tiny-a"),
               measure_every=1)
    assert rlhf.read_path(out)[0] == first and first["kl"] == 0.0


def test_a_val_path_point_of_the_start_is_at_kl_zero_and_repeats_exactly(data_home):
    from irlkit import data, stages
    from irlkit.stages.policies import ValPath

    ctx = stages.Context(config.load("smoke"), 0)
    start, _ = models.load_policy(ctx.start("tiny-a"))
    before = {k: v.clone() for k, v in start.state_dict().items()}
    measure = ValPath(ctx, "tiny-a")
    point = measure(start, step=0)
    assert point["kl"] == 0.0 and point["samples"] == len(data.split_of(ctx.prompts, "val")) * ctx.cfg.eval.kl_samples
    assert len(point["per_prompt"]["judge"]) == point["prompts"]
    assert point["toxicity"]["second"] == pytest.approx(np.mean(point["per_prompt"]["second"]))
    assert measure(start, step=0) == point  # its own seed: the same point again
    assert all(torch.equal(before[k], v) for k, v in start.state_dict().items())  # measured on a copy
    with torch.no_grad():
        for p in start.parameters():
            p.add_(0.05 * torch.randn_like(p))
    assert measure(start, step=1)["kl"] != 0.0
