import hashlib
import math

import numpy as np
import pytest
import torch

from irlkit import models, sampling


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.name != "manifest.json"}


def test_tiny_models_are_deterministic(data_home, tmp_path, monkeypatch):
    from pathlib import Path

    a = Path(models.materialise("tiny:0"))
    monkeypatch.setenv("IRLKIT_DATA", str(tmp_path / "other"))
    (tmp_path / "other" / "raw").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "other" / "raw").symlink_to(data_home / "raw")
    b = Path(models.materialise("tiny:0"))
    assert a != b and _digest(a) == _digest(b)


def test_local_hub_format_folder_loads_as_policy_and_reward_model(tmp_path):
    """The paper profile's path (a Hub id) is `from_pretrained` on a string: here a local Pythia-like folder."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    tok = models.load_tokenizer(models.materialise("tiny:1"))
    cfg = GPTNeoXConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    GPTNeoXForCausalLM(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    folder = models.materialise(str(tmp_path))
    policy, tok2 = models.load_policy(folder)
    assert tok2.padding_side == "left"
    reward, _ = models.load_reward_model(folder)
    enc = tok2(["a b", "a longer text here"], return_tensors="pt", padding=True)
    assert reward(**enc).logits.shape == (2, 1)


def test_batched_generation_equals_one_by_one():
    policy, tok = models.load_policy(models.materialise("tiny:0"))
    prompts = ["You are", "The weather today is quite", "I think that", "a"]
    batched = sampling.generate(policy, tok, prompts, max_new_tokens=6, batch_size=3, show_progress=False)
    single = sampling.generate_one_by_one(policy, tok, prompts, max_new_tokens=6)
    assert batched == single


def _naive_logprob(model, tok, prompt, continuation):
    """One pair at a time, full logits: the reference the batched path must match."""
    n_prompt = len(tok(prompt)["input_ids"])
    ids = torch.tensor([tok(prompt + continuation)["input_ids"]])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1).gather(-1, ids[0, 1:, None])[:, 0]
    return float(logp[max(n_prompt, 1) - 1:].sum()), int(ids.shape[1] - max(n_prompt, 1))


def test_implicit_logprobs_match_one_pair_at_a_time(data_home):
    from irlkit import implicit

    policy, tok = models.load_policy(models.materialise("tiny:0"))
    prompts = ["you are a", "what a lovely day it has been for", "", "no"]
    conts = [" nice person", " everyone here", " hello there", ""]
    sums, lengths = implicit.continuation_logprobs(policy, tok, prompts, conts, batch_size=3)
    for i, (p, c) in enumerate(zip(prompts, conts)):
        s, n = _naive_logprob(policy, tok, p, c)
        assert lengths[i] == n
        assert abs(sums[i] - s) < 1e-4, (i, sums[i], s)


def test_token_logprobs_online_over_vocabulary_blocks_match_one_logsumexp(data_home):
    """`vocab_block=0` is the whole-vocabulary formula bit for bit; blocks (one ragged last block included, targets
    in every block) agree with it to rounding, in fp32 and bf16; a negative block size is refused."""
    from irlkit import config, implicit

    policy, _ = models.load_policy(models.materialise("tiny:0"))
    head = policy.get_output_embeddings()
    vocab = head.weight.shape[0]
    hidden = torch.randn(300, head.weight.shape[1], generator=torch.Generator().manual_seed(0))
    targets = torch.cat([torch.arange(vocab), torch.randint(0, vocab, (300,))])[:300]  # every column, then random
    for dtype, tol in ((torch.float32, 1e-5), (torch.bfloat16, 1e-4)):
        policy.to(dtype)
        h = hidden.to(dtype)
        with torch.inference_mode():
            logits = head(h).float()
            whole = logits.gather(-1, targets[:, None])[:, 0] - torch.logsumexp(logits, dim=-1)
            assert torch.equal(implicit.token_logprobs(policy, h, targets, vocab_block=0), whole)
            for block in (7, vocab // 2 + 1, vocab):
                got = implicit.token_logprobs(policy, h, targets, rows=128, vocab_block=block)
                torch.testing.assert_close(got, whole, rtol=0, atol=tol)
    with pytest.raises(ValueError):
        config.load("smoke", **{"eval.logprob_vocab_block": -1})


def test_the_logprob_precision_switch_bf16_is_close_and_fp32_is_unchanged(data_home, monkeypatch):
    """04's log-probability stage with `eval.logprob_precision` fp32 gives exactly the fp32 policy's sums; bf16
    gives sums close to them but not equal, with the same token counts, cached under its own key; so does
    `compile_forward`, to rounding."""
    import pandas as pd

    from irlkit import config, implicit, stages, store
    from irlkit.stages import evaluation, graph

    folder = models.materialise("tiny:0")
    demos = pd.DataFrame({"split": ["val", "test", "test"], "prompt": ["you are a", "what a day", "no"],
                          "original_output": [" nice person", " it was", " way"],
                          "expert_text": [" kind soul", " indeed", " thanks"], "start_text": [" fool", " bad", " idiot"]})
    monkeypatch.setattr(evaluation.artifacts, "demos", lambda ctx, size: demos)
    policy, tok = models.load_policy(folder)
    tok.padding_side = "right"
    test = demos[demos.split == "test"]
    want, want_n = implicit.continuation_logprobs(policy, tok, list(test.prompt) * 3, list(test.original_output)
                                                  + list(test.expert_text) + list(test.start_text))
    got = {}
    for precision in ("fp32", "bf16"):
        ctx = stages.Context(config.load("smoke", **{"eval.logprob_precision": precision}))
        graph.build(ctx, "demos", lambda tmp: None, upstream=[], size="tiny-a")  # stands in for 02's (no reads differ)
        got[precision] = dict(np.load(evaluation.pool_logprobs(ctx, "tiny-a", "start") / "logprobs.npz"))
    np.testing.assert_array_equal(got["fp32"]["test_logp"], want)
    np.testing.assert_array_equal(got["bf16"]["test_tokens"], want_n)
    assert not np.array_equal(got["bf16"]["test_logp"], want)
    np.testing.assert_allclose(got["bf16"]["test_logp"], want, rtol=0.05, atol=0.5)
    with pytest.raises(ValueError):
        config.load("smoke", **{"eval.logprob_precision": "fp16"})
    ctx = stages.Context(config.load("smoke", **{"eval.logprob_precision": "fp32", "compile_forward": True}))
    compiled = evaluation.pool_logprobs(ctx, "tiny-a", "start")  # rebuilt under its own key, not the eager result
    assert store.manifest_of(compiled)["key"]["reads"]["compile_forward"] is True
    np.testing.assert_allclose(np.load(compiled / "logprobs.npz")["test_logp"], want, rtol=1e-5, atol=1e-4)


def test_implicit_reward_is_the_scaled_log_ratio_summed_and_per_token():
    from irlkit import implicit

    r = implicit.implicit_reward(np.array([-1.0, -2.0, -5.0]), np.array([-3.0, -2.0, -1.0]), np.array([2, 0, 4]),
                                 beta=0.5)
    np.testing.assert_allclose(r["sum"], [1.0, 0.0, -2.0])
    np.testing.assert_allclose(r["mean"], [0.5, 0.0, -0.5])  # no tokens: 0, not a division by zero


def test_length_batched_features_and_scores_match_one_text_at_a_time(data_home):
    from irlkit import irl

    folder = models.materialise("tiny:1")
    tok = models.load_tokenizer(folder)
    texts = ["short", "a much longer text with many more words in it than the others", "", "mid length text"]
    backbone = models.load_backbone(folder)
    for pooling in ("last", "mean"):
        batched = irl.features(backbone, tok, texts, max_length=16, batch_size=3, pooling=pooling)
        single = [irl.features(backbone, tok, [t], max_length=16, pooling=pooling)[0] for t in texts]
        assert torch.allclose(torch.tensor(batched), torch.tensor(np.array(single)), atol=1e-4), pooling
    ids = tok(texts[3], return_tensors="pt")  # short: no truncation
    with torch.no_grad():
        expected_mean = backbone(**ids).last_hidden_state[0].mean(0).numpy()
    assert np.allclose(irl.features(backbone, tok, texts[3:], max_length=16, pooling="mean")[0], expected_mean, atol=1e-4)
    reward, tok2 = models.load_reward_model(folder)
    batched = irl.score_texts(reward, tok2, texts, max_length=16, batch_size=3)
    single = [irl.score_texts(reward, tok2, [t], max_length=16)[0] for t in texts]
    assert torch.allclose(torch.tensor(batched), torch.tensor(np.array(single)), atol=1e-4)


def test_forward_stages_skip_the_kv_cache_bit_identically(data_home):
    """Features and log-probabilities ask the model for no KV cache (a pure speedup): the same numbers, bit for
    bit, as the same forward passes filling one."""
    from irlkit import implicit, irl

    folder = models.materialise("tiny:1")
    texts = ["short", "a much longer text with many more words in it than the others", "", "mid length text"]
    backbone, (policy, tok) = models.load_backbone(folder), models.load_policy(folder)
    tok.padding_side = "right"
    got = irl.features(backbone, tok, texts, max_length=16, batch_size=3), implicit.continuation_logprobs(
        policy, tok, ["you are a"] * 4, texts, batch_size=3)
    for model in (backbone, policy.base_model):
        forward = model.forward
        model.forward = lambda *args, forward=forward, **kwargs: forward(*args, **{**kwargs, "use_cache": True})
    want = irl.features(backbone, tok, texts, max_length=16, batch_size=3), implicit.continuation_logprobs(
        policy, tok, ["you are a"] * 4, texts, batch_size=3)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1][0], want[1][0])


def test_compiled_forward_matches_eager_to_rounding_and_asks_for_a_compiler(data_home, monkeypatch):
    """`compile_blocks` and the compiled normaliser change features and log-probabilities by rounding only;
    without a C++ compiler `compile_blocks` says what is missing and how to turn it off."""
    from irlkit import config, implicit, irl

    folder = models.materialise("tiny:1")
    texts = ["short", "a much longer text with many more words in it than the others", "", "mid length text"]
    backbone, (policy, tok) = models.load_backbone(folder), models.load_policy(folder)
    eager = irl.features(backbone, tok, texts, max_length=16, batch_size=3)
    tok.padding_side = "right"
    eager_logp, n = implicit.continuation_logprobs(policy, tok, ["you are a"] * 4, texts, batch_size=3, vocab_block=100)
    models.compile_blocks(backbone), models.compile_blocks(policy)
    np.testing.assert_allclose(irl.features(backbone, tok, texts, max_length=16, batch_size=3), eager, atol=1e-4)
    logp, n_compiled = implicit.continuation_logprobs(policy, tok, ["you are a"] * 4, texts, batch_size=3,
                                                      vocab_block=100, compiled=True)
    np.testing.assert_allclose(logp, eager_logp, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(n_compiled, n)
    assert config.load("cpu").compile_forward and not config.load("smoke").compile_forward
    monkeypatch.setenv("CXX", "no-such-compiler")
    with pytest.raises(RuntimeError, match="C\\+\\+ compiler.*compile_forward=False"):
        models.compile_blocks(models.load_backbone(folder))


def test_perplexity_is_the_mean_token_nll_of_one_text_at_a_time(data_home):
    from irlkit import config, rlhf

    folder = models.materialise("tiny:0")
    policy, tok = models.load_policy(folder)
    texts = ["you are a nice person", "what a lovely day it has been for everyone", "ok"]
    naive = [_naive_logprob(policy, tok, "", t) for t in texts]
    expected = math.exp(-sum(s for s, _ in naive) / sum(n for _, n in naive))
    assert rlhf.perplexity(folder, texts, config.load("smoke")) == pytest.approx(expected, rel=1e-5)
