import hashlib

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
