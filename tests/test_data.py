import pandas as pd

from irlkit import config, data


def test_unescape_double_escaped_comments():
    assert data.unescape('"You fuck your dad."') == "You fuck your dad."
    assert data.unescape('"i really don\'t\\\\xa0 understand"') == "i really don't understand"
    assert data.unescape('"caf\\\\xc3\\\\xa9 ok\\\\n\\\\nbye"') == "café ok bye"
    assert data.unescape('"plain"') == "plain"


def _raw(n=200):
    rows = [{"text": " ".join(f"w{i}_{k}" for k in range(20)), "human_label": int(i % 4 == 0)} for i in range(n)]
    rows.append({"text": "too short", "human_label": 1})
    return pd.DataFrame(rows)


def test_build_prompts_balanced_disjoint_deterministic():
    cfg = config.load("smoke", **{"data.max_prompts": 0})
    a, b = data.build_prompts(_raw(), cfg), data.build_prompts(_raw(), cfg)
    pd.testing.assert_frame_equal(a, b)
    assert (a.human_label == 1).sum() == (a.human_label == 0).sum() == 50
    assert "too short" not in set(a.text)
    groups = {s: set(a[a.split == s].prompt) for s in data.SPLITS}
    assert not (groups["train"] & groups["val"] or groups["train"] & groups["test"] or groups["val"] & groups["test"])
    assert all((a.prompt + a.original_output) == a.text)
    c = data.counts(a)
    assert c["test"]["toxic"] == c["test"]["clean"] and sum(v["n"] for v in c.values()) == len(a)


def test_prompt_is_at_most_half_of_the_comment():
    p, c = data.split_comment("a b c d e f g h", max_prompt_words=24, max_continuation_words=48)
    assert p == "a b c d" and c == " e f g h"


def test_the_sealed_set_is_what_no_split_uses_balanced_fixed_by_its_hash_and_loaded_only_when_final(data_home):
    import pytest

    dev, final = config.load("smoke"), config.load("smoke", **{"data.sealed": True})
    assert "sealed" not in set(data.load_prompts(dev).split), "development never loads it"
    prompts = data.load_prompts(final)
    sealed = prompts[prompts.split == "sealed"]
    assert len(sealed) == final.data.max_sealed and sealed.human_label.sum() == len(sealed) // 2
    assert not set(sealed.prompt_id) & set(prompts[prompts.split != "sealed"].prompt_id)
    assert data.ids_hash(sealed.prompt_id) == final.data.sealed_ids_hash
    pd.testing.assert_frame_equal(prompts[prompts.split != "sealed"], data.load_prompts(dev))  # the other splits stay
    assert data.report_split(final) == "sealed" and data.report_split(dev) == "test"
    with pytest.raises(ValueError, match="not the one that was sealed"):
        data.load_prompts(config.load("smoke", **{"data.sealed": True, "data.max_sealed": 46}))
