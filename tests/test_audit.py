"""Auditing a model pair of one's own (`irlkit.recover`, `python -m irlkit.recover`) on the tiny smoke models:
a known answer, the saved reward read back by transformers and TRL, and every bad input refused before any work."""
import json
import shutil

import datasets
import numpy as np
import pandas as pd
import pytest

import irlkit
from irlkit import audit, config, irl, models, rlhf
from irlkit.rewards import ProbeReward

PROMPTS = ["You are such a", "I think that the", "Thank you for the", "What a stupid", "Go away you", "The weather is"]


@pytest.fixture
def pair(data_home):
    """(policy, reference): two tiny models of one tokenizer (tiny:1 plays the aligned policy of tiny:0)."""
    return models.materialise("tiny:1"), models.materialise("tiny:0")


def _fake_demonstrations(monkeypatch, chosen_word: str, rejected_word: str, n: int = 60):
    """Demonstrations in which the policy always writes `chosen_word`, the reference `rejected_word`: the goal is known."""
    def fake(policy, reference, prompts, *, samples_per_prompt, val_fraction, seed, **_):
        rng = np.random.default_rng(seed)
        rows = {"prompt": [f"item {i}:" for i in range(n)], "sample": [0] * n,
                "chosen": [f" {chosen_word} number {rng.integers(100)}" for _ in range(n)],
                "rejected": [f" {rejected_word} number {rng.integers(100)}" for _ in range(n)]}
        held = audit.split_prompts(n, val_fraction, seed)
        pick = lambda mask: {k: [v for v, m in zip(col, mask) if m] for k, col in rows.items()}  # noqa: E731
        return datasets.DatasetDict({"train": datasets.Dataset.from_dict(pick(~held)),
                                     "validation": datasets.Dataset.from_dict(pick(held))})
    monkeypatch.setattr(audit, "demonstrations", fake)


def test_a_known_goal_is_recovered_and_the_flipped_null_is_not(pair, monkeypatch):
    _fake_demonstrations(monkeypatch, "kind", "rude")
    result = irlkit.recover(*pair, PROMPTS, seeds=3, epochs=20, null_heads=4, log=lambda _: None)
    d = result.diagnostics
    assert d["heldout_pairwise_accuracy"]["value"] >= 0.95  # every held-out pair ordered as the policy does
    assert d["heldout_pairwise_accuracy"]["low"] > d["null_pairwise_accuracy"]["p95"]
    assert result.reward.score([" kind number 7"])[0] > result.reward.score([" rude number 7"])[0]
    assert d["pairs"] == {"train": 45, "validation": 15}
    assert result.evaluation is None  # no judge given: nothing but the two policies entered


def test_the_same_seed_recovers_the_same_reward(pair):
    kw = dict(seeds=2, epochs=3, null_heads=0, samples_per_prompt=2, log=lambda _: None)
    a, b = irlkit.recover(*pair, PROMPTS, **kw), irlkit.recover(*pair, PROMPTS, **kw)
    assert a.demonstrations["train"]["chosen"] == b.demonstrations["train"]["chosen"]
    assert np.array_equal(a.reward.score(PROMPTS), b.reward.score(PROMPTS))


def test_a_probe_folded_into_a_classifier_scores_as_the_probe_without_its_offset(pair):
    reference = pair[1]
    rng = np.random.default_rng(0)
    d = 64  # tiny:0's width
    probe = irl.LinearProbe(rng.normal(size=d), rng.normal(size=d), rng.uniform(0.5, 2, size=d))
    reward, offset = audit.probe_as_classifier(reference, probe, max_length=32)
    texts = ["you idiot", "thank you so much", "", "the cat sat on the mat and"]
    expected = ProbeReward(reference, probe, max_length=32).score(texts) + offset
    np.testing.assert_allclose(reward.score(texts), expected, rtol=1e-4, atol=1e-4)


def test_the_saved_audit_loads_in_datasets_transformers_and_trl(pair, tmp_path):
    from transformers import AutoModelForSequenceClassification, pipeline

    result = irlkit.recover(*pair, PROMPTS, seeds=2, epochs=3, null_heads=2, judge="toxblock", log=lambda _: None)
    out = result.save(tmp_path / "audit")
    assert sorted(p.name for p in out.iterdir()) == ["demonstrations", "history.jsonl", "report.json", "reward_model"]
    assert not list(tmp_path.glob(".audit.partial-*"))
    demos = datasets.load_from_disk(str(out / "demonstrations"))
    assert set(demos) == {"train", "validation"}
    assert {"prompt", "chosen", "rejected"} <= set(demos["train"].column_names)  # TRL's preference format
    report = json.loads((out / "report.json").read_text())
    evaluation = report["evaluation"]  # the tiny models rarely write a toxic text: an AUC may be undefined (None)
    assert evaluation["judge"] == "toxblock" and evaluation["n_texts"] == 2 * len(demos["validation"])
    assert evaluation["auc_pooled"] is None or 0 <= evaluation["auc_pooled"] <= 1

    texts = ["you idiot", "thank you so much", "the weather is fine today"]
    model = AutoModelForSequenceClassification.from_pretrained(str(out / "reward_model"))
    assert model.config.num_labels == 1
    scores = [row["score"] for row in pipeline("text-classification", model=str(out / "reward_model"))(texts)]
    np.testing.assert_allclose(scores, result.reward.score(texts), rtol=1e-4, atol=1e-5)

    cfg = config.load("smoke", **{"rlhf.steps": 1})  # one RLOO step of TRL's trainer, rewarded by the folder
    prompts = pd.DataFrame({"prompt": PROMPTS, "original_output": ["fine"] * len(PROMPTS)})
    (tmp_path / "policy").mkdir()
    rlhf.train(pair[1], prompts, str(out / "reward_model"), cfg.rlhf, tmp_path / "policy", max_new_tokens=4, seed=0)
    steps = [json.loads(line) for line in (tmp_path / "policy" / "log.jsonl").read_text().splitlines()]
    assert any(np.isfinite(row.get("reward", np.nan)) for row in steps)


def test_the_command_writes_the_audit_and_says_how_to_load_it(pair, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS))
    assert audit.main(["--policy", pair[0], "--reference", pair[1], "--prompts", str(prompts),
                       "--out", str(tmp_path / "out"), "--seeds", "2", "--samples-per-prompt", "2"]) == 0
    printed = capsys.readouterr().out
    assert "held-out pairs ordered as the policy does" in printed and "pipeline('text-classification'" in printed
    assert (tmp_path / "out" / "reward_model" / "config.json").exists()


def test_help_opens_with_an_example(capsys):
    with pytest.raises(SystemExit):
        audit.main(["--help"])
    assert "python -m irlkit.recover --policy" in capsys.readouterr().out


def _refused(capsys, argv) -> str:
    with pytest.raises(SystemExit) as stop:
        audit.main(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("case, expected", [
    ("missing policy", "no such folder"),
    ("not a model", "has no config.json"),
    ("other tokenizer", "tokenizers of policy"),
    ("empty prompts", "holds no prompts"),
    ("malformed prompts", ":2: not JSON"),
    ("no prompt field", "string 'prompt'"),
    ("too long", "more than the models' context"),
    ("unknown judge", "unknown judge"),
    ("out not empty", "exists and is not empty"),
])
def test_bad_input_is_refused_before_any_work_and_leaves_nothing(pair, tmp_path, capsys, case, expected):
    policy, reference = pair
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS))
    out, extra = tmp_path / "out", []
    if case == "missing policy":
        policy = str(tmp_path / "nowhere")
    elif case == "not a model":
        (tmp_path / "empty").mkdir()
        policy = str(tmp_path / "empty")
    elif case == "other tokenizer":
        other = tmp_path / "other"
        shutil.copytree(policy, other)
        tok = models.load_tokenizer(policy)
        tok.add_tokens(["<a-token-the-reference-lacks>"])
        tok.save_pretrained(str(other))
        policy = str(other)
    elif case == "empty prompts":
        prompts.write_text("\n")
    elif case == "malformed prompts":
        prompts.write_text(json.dumps({"prompt": "fine"}) + "\n{not json\n")
    elif case == "no prompt field":
        prompts.write_text(json.dumps({"text": "fine"}) + "\n")
    elif case == "too long":
        prompts.write_text(json.dumps({"prompt": "word " * 600}) + "\n" + json.dumps({"prompt": "ok"}) + "\n")
    elif case == "unknown judge":
        extra = ["--judge", "no-such-judge"]
    elif case == "out not empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    err = _refused(capsys, ["--policy", policy, "--reference", reference, "--prompts", str(prompts), "--out", str(out),
                            *extra])
    assert expected in err, err
    assert err.count("\n") == 1  # one line, no traceback
    if case == "out not empty":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_settings_are_checked_before_any_model_is_read(tmp_path):
    for kwargs, text in [({"mode": "lora"}, "mode must be one of"), ({"loss": "squared"}, "loss must be"),
                         ({"temperature": 0.0}, "samples_per_prompt must be 1"), ({"val_fraction": 1.0}, "val_fraction"),
                         ({"seeds": 0}, "seeds must be")]:
        with pytest.raises(audit.AuditError, match=text):
            irlkit.recover(str(tmp_path / "a"), str(tmp_path / "b"), PROMPTS, **kwargs)
    with pytest.raises(audit.AuditError, match="prompt 1"):
        irlkit.recover(str(tmp_path / "a"), str(tmp_path / "b"), ["fine", "  "])
