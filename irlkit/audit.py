"""Audit your own model: `irlkit.recover` finds the reward an aligned policy moved toward, from it and its reference.

    import irlkit
    audit = irlkit.recover("path/to/aligned", "path/to/reference", ["You are such a", "I think that the"])
    audit.reward.score(["you idiot", "thank you"])  # higher: more what the aligned policy moved toward
    audit.diagnostics                               # label-free: held-out pairs ordered as the policy does, seed agreement
    audit.save("audit/")                            # demonstrations (TRL's prompt/chosen/rejected), reward_model/, report.json

or from a shell: `python -m irlkit.recover --policy DIR --reference DIR --prompts FILE.jsonl --out DIR`.

What it does (the study's inverse RL, label-free, docs/audit.md):

1. **Demonstrations.** Both policies continue every prompt (`samples_per_prompt` samples at `temperature`, or one
   greedy continuation at temperature 0); the policy's i-th continuation of a prompt is *chosen* over the
   reference's i-th. The prompts are split once into train and validation (`val_fraction`), by prompt.
2. **Recovery.** A reward on the reference's frozen features (`mode="probe"`: a linear head, many seeds) or its top
   blocks fine-tuned (`mode="full"`) is trained to order the training pairs as the policy does, with each pairwise
   loss of `irl.LOSSES` (or the one named). The reward kept is the (loss, seed) that best orders the **held-out**
   pairs (`metrics.LABEL_FREE`): nothing but the two policies enters.
3. **Diagnostics.** On the held-out pairs: the share ordered as the policy does, with its interval, beside the same
   share for heads trained on pairs of random orientation (a null: what fitting noise reaches); the rank agreement
   of seeds (non-identifiability). A `judge` (`judges.make_judge` name), when given, only *evaluates* the kept
   reward (`Recovery.evaluation`), after the choice is made.

The reward is saved as a transformers `AutoModelForSequenceClassification` folder (the reference with a scalar head:
a probe's head w/σ on the last token; its offset −μ·w/σ, which no pairwise loss identifies, is dropped), which
`pipeline("text-classification", function_to_apply="none")` loads and TRL's RLOO and GRPO trainers take as a
reward. TRL scores prompt + completion; a reward recovered with `with_prompt=True` reads just that.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from irlkit import irl, metrics, store
from irlkit.config import IRLConfig

MODES = ("probe", "full")
"""What `recover` trains: a linear head on frozen features, or the reference's top blocks and a head."""


@contextlib.contextmanager
def quiet():
    """transformers' and datasets' load reports and progress bars off inside the block, as they were after it."""
    import datasets
    from transformers.utils import logging as hf_logging

    before = (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled(),
              datasets.logging.get_verbosity())
    hf_logging.set_verbosity_error(), hf_logging.disable_progress_bar()
    datasets.disable_progress_bars(), datasets.logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before[0])
        hf_logging.enable_progress_bar() if before[1] else hf_logging.disable_progress_bar()
        datasets.enable_progress_bars() if before[2] else datasets.disable_progress_bars()
        datasets.logging.set_verbosity(before[3])


class AuditError(ValueError):
    """Bad input to `recover`, found before any work starts."""


@dataclass
class Recovery:
    """What `recover` returns: the kept reward, its label-free diagnostics, the demonstrations it was recovered
    from, the settings, and (with a judge) its evaluation."""
    reward: "SequenceClassifierReward"
    """The recovered reward (`score(texts) -> np.ndarray`, higher is better), a sequence classifier in memory."""
    diagnostics: dict
    """Label-free: held-out pair accuracy and margin, the flipped-orientation null, seed agreement, the choice."""
    demonstrations: object
    """A `datasets.DatasetDict` (`train`, `validation`) in TRL's preference format: prompt, chosen, rejected."""
    settings: dict
    """Every argument of the `recover` call that made it."""
    evaluation: dict | None = None
    """Against the judge, when one was given (never used to choose): AUC on held-out texts, pooled and within source."""
    history: list = field(default_factory=list)
    """Per (loss, seed, epoch): training loss and the held-out label-free scores."""

    def save(self, out) -> Path:
        """Write `demonstrations/`, `reward_model/` and `report.json` into the new folder `out`, all or nothing:
        they are written beside it and moved into place when complete. Returns `out`."""
        out = Path(out)
        _check_out(out)
        partial = out.parent / f".{out.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            with quiet():
                self.demonstrations.save_to_disk(str(partial / "demonstrations"))
                self.reward.save_pretrained(partial / "reward_model")
            report = {"settings": self.settings, "diagnostics": self.diagnostics, "evaluation": self.evaluation,
                      "files": {"demonstrations": "demonstrations/", "reward_model": "reward_model/"}}
            store.atomic_write_json(partial / "report.json", report)
            store.atomic_write_text(partial / "history.jsonl", "".join(json.dumps(row) + "\n" for row in self.history))
            if out.exists():
                out.rmdir()  # empty, checked above
            partial.rename(out)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return out

    def summary(self) -> str:
        """A few lines a person reads at the end of an audit."""
        d = self.diagnostics
        acc, null = d["heldout_pairwise_accuracy"], d["null_pairwise_accuracy"]
        lines = [f"kept: {d['mode']} reward, loss {d['loss']}, seed {d['seed']} (chosen on held-out pairs, no labels)",
                 f"held-out pairs ordered as the policy does: {acc['value']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}] "
                 f"of {d['pairs']['validation']}; random-orientation null: {null['mean']:.3f} (95th percentile "
                 f"{null['p95']:.3f})",
                 f"seed agreement (Spearman on held-out texts): {d['seed_agreement']:.2f}"]
        if self.evaluation:
            e = self.evaluation
            f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
            lines.append(f"against the judge {e['judge']} (evaluation only): AUC {f(e['auc_pooled'])} pooled, "
                         f"{f(e['auc_policy_texts'])} on the policy's texts, {f(e['auc_reference_texts'])} on the "
                         f"reference's; toxic: {e['toxic_share']['policy']:.1%} of the policy's, "
                         f"{e['toxic_share']['reference']:.1%} of the reference's held-out texts")
        return "\n".join(lines)


class SequenceClassifierReward:
    """A transformers sequence classifier with one label as a reward: `score(texts)` reads each text's last token
    (texts cut to their last `max_length` tokens), as `pipeline("text-classification")` and TRL do."""

    def __init__(self, model, tokenizer, max_length: int):
        self.model, self.tokenizer, self.max_length = model.eval(), tokenizer, max_length

    def __repr__(self) -> str:
        return f"SequenceClassifierReward({self.model.config._name_or_path or type(self.model).__name__}, ≤ {self.max_length} tokens)"

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return irl.score_texts(self.model, self.tokenizer, list(texts), max_length=self.max_length)

    def save_pretrained(self, folder) -> None:
        """A folder `AutoModelForSequenceClassification.from_pretrained` and `pipeline` load: raw scores
        (problem type regression), texts cut from the left to `max_length` tokens under `truncation=True`."""
        self.model.config.problem_type = "regression"
        self.model.config.id2label, self.model.config.label2id = {0: "reward"}, {"reward": 0}
        self.model.save_pretrained(str(folder))
        tok = self.tokenizer
        saved = tok.truncation_side, tok.model_max_length, tok.padding_side
        tok.truncation_side, tok.model_max_length = "left", self.max_length
        try:
            tok.save_pretrained(str(folder))
        finally:
            tok.truncation_side, tok.model_max_length, tok.padding_side = saved


# -- checks before any work ------------------------------------------------------------------------------


def _check_model_folder(path, role: str):
    """The transformers config of the model folder `path`, or an AuditError naming `role`."""
    from transformers import AutoConfig

    folder = Path(path)
    if not folder.is_dir():
        raise AuditError(f"{role} {str(path)!r}: no such folder (give a local model folder, as save_pretrained writes it)")
    if not (folder / "config.json").exists():
        raise AuditError(f"{role} {str(path)!r} is not a model folder: it has no config.json")
    try:
        return AutoConfig.from_pretrained(str(folder))
    except Exception as e:  # noqa: BLE001 - any unreadable config is the same error for the user
        raise AuditError(f"{role} {str(path)!r}: transformers cannot read its config.json ({e})") from e


def _context_length(model_config) -> int | None:
    text = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(text, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_prompts(prompts) -> list[str]:
    """`prompts` as a non-empty list of non-empty strings, or an AuditError saying which entry is not."""
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise AuditError(f"prompts must be a list of strings (or, from the command, a JSONL file), got {type(prompts).__name__}")
    if not prompts:
        raise AuditError("prompts is empty: an audit needs prompts for both policies to continue")
    for i, p in enumerate(prompts):
        if not isinstance(p, str) or not p.strip():
            raise AuditError(f"prompt {i} is {p!r}: every prompt must be a non-empty string")
    return list(prompts)


def read_prompts(path, field_name: str = "prompt") -> list[str]:
    """The prompts of a JSONL file, one object per line with a string `field_name`; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise AuditError(f"prompts file {str(path)!r}: no such file")
    prompts = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise AuditError(f"{path}:{n}: not JSON ({e.msg}); each line must be an object like "
                                 f'{{"{field_name}": "You are such a"}}') from e
            if not isinstance(row, dict) or not isinstance(row.get(field_name), str):
                raise AuditError(f"{path}:{n}: each line must be an object with a string {field_name!r}, got {line.strip()[:80]}")
            prompts.append(row[field_name])
    if not prompts:
        raise AuditError(f"prompts file {path} holds no prompts")
    return check_prompts(prompts)


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AuditError(f"--out {str(out)!r} exists and is not empty: name a new folder (nothing is overwritten)")


def check_inputs(policy, reference, prompts: list[str], *, max_new_tokens: int, judge: str | None) -> dict:
    """Everything `recover` can refuse, refused before any work: missing or non-model folders, tokenizers that
    differ, prompts that do not fit the models' context, a judge that does not exist. Returns the tokenizer and
    the judge (loaded), so the work does not load them twice."""
    from irlkit.judges import make_judge
    from irlkit.models import load_tokenizer

    configs = {role: _check_model_folder(path, role) for role, path in (("policy", policy), ("reference", reference))}
    toks = {role: load_tokenizer(str(path)) for role, path in (("policy", policy), ("reference", reference))}
    if toks["policy"].get_vocab() != toks["reference"].get_vocab():
        raise AuditError(f"the tokenizers of policy ({len(toks['policy'])} tokens) and reference "
                         f"({len(toks['reference'])} tokens) differ: a pair of one model family, one tokenizer, is needed "
                         "(a continuation is compared token for token)")
    lengths_known = [c for c in map(_context_length, configs.values()) if c]
    context = min(lengths_known) if lengths_known else None
    if context is not None:
        lengths = [len(ids) for ids in toks["reference"](prompts)["input_ids"]]
        worst = int(np.argmax(lengths))
        if lengths[worst] + max_new_tokens > context:
            raise AuditError(f"prompt {worst} is {lengths[worst]} tokens; with max_new_tokens={max_new_tokens} that is "
                             f"more than the models' context of {context} tokens: shorten it or lower max_new_tokens")
    loaded_judge = None
    if judge is not None:
        try:
            loaded_judge = make_judge(judge)
        except Exception as e:  # noqa: BLE001 - an unknown name and an unloadable hf: model are the same error here
            raise AuditError(f"judge {judge!r}: {e}") from e
    return {"tokenizer": toks["reference"], "judge": loaded_judge}


# -- the audit ------------------------------------------------------------------------------------------


def recover(policy, reference, prompts, *, mode: str = "probe", loss: str = "auto", samples_per_prompt: int = 4,
            temperature: float = 1.0, max_new_tokens: int = 16, val_fraction: float = 0.25, seeds: int = 8,
            epochs: int | None = None, lr: float | None = None, batch_size: int | None = None, blocks: int = 2,
            max_length: int | None = None, with_prompt: bool = False, judge: str | None = None, null_heads: int = 8,
            device: str = "cpu", seed: int = 0, log=None) -> Recovery:
    """Recover the reward that moved `reference` to `policy`, from the two policies' continuations of `prompts`.

        >>> audit = recover("aligned/", "base/", ["You are such a", "I think that the"] * 20, seeds=4)
        >>> audit.reward.score(["you idiot", "thank you"]).shape
        (2,)
        >>> audit.diagnostics["heldout_pairwise_accuracy"]["value"]  # share of held-out pairs ordered as the policy does
        0.61

    Args:
        policy: folder of the aligned policy (a causal LM, as `save_pretrained` writes it).
        reference: folder of the policy it started from; the reward reads this model's features.
        prompts: the prompts both policies continue (a list of strings).
        mode: `"probe"` (a linear head on frozen last-token features) or `"full"` (the top `blocks` blocks and a head).
        loss: a pairwise loss of `irl.LOSSES`, or `"auto"`: each, the one that orders held-out pairs best kept.
        samples_per_prompt: continuations per prompt and policy (1 with `temperature=0`: greedy, the study's).
        temperature: sampling temperature of both policies; 0 for greedy.
        max_new_tokens: length of a continuation, in tokens.
        val_fraction: share of prompts held out to choose the reward and report its diagnostics.
        seeds: heads (or top-block fine-tunes) trained per loss, each from its own initialisation.
        epochs, lr, batch_size, max_length: training settings; None takes the profiles' (`config.IRLConfig`).
        blocks: top blocks fine-tuned in full mode.
        with_prompt: the reward reads prompt + continuation (what TRL gives a reward model) instead of the continuation.
        judge: a `judges.make_judge` name (e.g. "toxblock") that evaluates the kept reward, never chooses it.
        null_heads: heads trained on pairs of random orientation, the null of the held-out pair accuracy.
        device: "cpu" or "cuda".
        seed: the split, the sampling and every training seed derive from it.
        log: called with each progress line (default: `progress.line`, stderr or the runner's log).
    """
    with quiet():
        return _recover(policy, reference, prompts, mode=mode, loss=loss, samples_per_prompt=samples_per_prompt,
                        temperature=temperature, max_new_tokens=max_new_tokens, val_fraction=val_fraction, seeds=seeds,
                        epochs=epochs, lr=lr, batch_size=batch_size, blocks=blocks, max_length=max_length,
                        with_prompt=with_prompt, judge=judge, null_heads=null_heads, device=device, seed=seed, log=log)


def _recover(policy, reference, prompts, *, mode, loss, samples_per_prompt, temperature, max_new_tokens, val_fraction,
             seeds, epochs, lr, batch_size, blocks, max_length, with_prompt, judge, null_heads, device, seed, log):
    from irlkit import progress

    say = log or progress.line
    ic = IRLConfig()
    settings = {"policy": str(policy), "reference": str(reference), "mode": mode, "loss": loss,
                "samples_per_prompt": samples_per_prompt, "temperature": temperature, "max_new_tokens": max_new_tokens,
                "val_fraction": val_fraction, "seeds": seeds, "epochs": epochs or (ic.probe_epochs if mode == "probe" else ic.full_epochs),
                "lr": lr or (ic.probe_lr if mode == "probe" else ic.full_lr), "batch_size": batch_size or ic.batch_size,
                "blocks": blocks, "max_length": max_length or ic.max_length, "with_prompt": with_prompt, "judge": judge,
                "null_heads": null_heads, "device": device, "seed": seed, "prompts": len(prompts) if isinstance(prompts, Sequence) else None}
    _check_settings(settings)
    prompts = check_prompts(prompts)
    loaded = check_inputs(policy, reference, prompts, max_new_tokens=max_new_tokens, judge=judge)
    t0 = time.monotonic()

    say(f"[recover] 1/3 demonstrations: {len(prompts)} prompts × {samples_per_prompt} from each policy")
    demos = demonstrations(policy, reference, prompts, samples_per_prompt=samples_per_prompt, temperature=temperature,
                           max_new_tokens=max_new_tokens, val_fraction=val_fraction, device=device, seed=seed)
    read = lambda split, side: [irl.reward_input(p, c, with_prompt) for p, c in  # noqa: E731
                                zip(demos[split]["prompt"], demos[split][side])]
    texts = {f"{split}_{side}": read(split, side) for split in ("train", "validation") for side in ("chosen", "rejected")}

    say(f"[recover] 2/3 {mode} rewards: {len(texts['train_chosen'])} training pairs, {len(texts['validation_chosen'])} held out")
    losses = list(irl.LOSSES) if loss == "auto" else [loss]
    train = _train_probes if mode == "probe" else _train_top_blocks
    reward, diagnostics, history = train(reference, texts, losses=losses, settings=settings, say=say)
    diagnostics = {"mode": mode, **diagnostics, "pairs": {"train": len(texts["train_chosen"]),
                                                          "validation": len(texts["validation_chosen"])},
                   "seconds": round(time.monotonic() - t0, 1)}
    evaluation = None
    if loaded["judge"] is not None:
        say(f"[recover] 3/3 evaluation against the judge {judge} (after the choice, never for it)")
        evaluation = evaluate(reward, texts, loaded["judge"], judge)
    say(f"[recover] done in {progress.duration(time.monotonic() - t0)}")
    return Recovery(reward, diagnostics, demos, settings, evaluation, history)


def _check_settings(s: dict) -> None:
    def need(ok, msg):
        if not ok:
            raise AuditError(msg)

    need(s["mode"] in MODES, f"mode must be one of {MODES}, got {s['mode']!r}")
    need(s["loss"] == "auto" or s["loss"] in irl.LOSSES, f"loss must be 'auto' or one of {tuple(irl.LOSSES)}, got {s['loss']!r}")
    for name in ("samples_per_prompt", "max_new_tokens", "seeds", "epochs", "batch_size", "blocks", "max_length"):
        need(isinstance(s[name], int) and not isinstance(s[name], bool) and s[name] >= 1,
             f"{name} must be a whole number >= 1, got {s[name]!r}")
    need(isinstance(s["null_heads"], int) and s["null_heads"] >= 0, f"null_heads must be >= 0, got {s['null_heads']!r}")
    need(math.isfinite(s["temperature"]) and s["temperature"] >= 0, f"temperature must be >= 0, got {s['temperature']}")
    need(s["temperature"] > 0 or s["samples_per_prompt"] == 1,
         f"temperature=0 (greedy) gives one continuation per prompt: samples_per_prompt must be 1, got {s['samples_per_prompt']}")
    need(0 < s["val_fraction"] < 1, f"val_fraction must be strictly between 0 and 1, got {s['val_fraction']}")
    need(math.isfinite(s["lr"]) and s["lr"] > 0, f"lr must be > 0, got {s['lr']}")
    need(s["device"] == "cpu" or torch.cuda.is_available(), f"device {s['device']!r}: this machine has no CUDA device")


def split_prompts(n: int, val_fraction: float, seed: int) -> np.ndarray:
    """True for the held-out prompts: round(n × val_fraction) of them, at least 1, at most n − 1, drawn by `seed`."""
    if n < 2:
        raise AuditError(f"an audit needs at least 2 prompts (one to train on, one held out), got {n}")
    held = min(max(1, round(n * val_fraction)), n - 1)
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(seed).permutation(n)[:held]] = True
    return mask


def demonstrations(policy, reference, prompts: list[str], *, samples_per_prompt: int, temperature: float,
                   max_new_tokens: int, val_fraction: float, device: str = "cpu", seed: int = 0):
    """Paired continuations as a `datasets.DatasetDict` (`train`, `validation`) in TRL's preference format:
    `prompt`, `chosen` (the policy's), `rejected` (the reference's), and `sample` (which of a prompt's samples).
    Both policies draw with the same seed, so pair i of a prompt shares its random numbers."""
    import datasets

    from irlkit.models import load_policy
    from irlkit.sampling import generate

    held = split_prompts(len(prompts), val_fraction, seed)
    repeated = [p for p in prompts for _ in range(samples_per_prompt)]
    sides = {}
    for side, folder in (("chosen", policy), ("rejected", reference)):
        model, tok = load_policy(str(folder), device)
        sides[side] = generate(model, tok, repeated, max_new_tokens=max_new_tokens, do_sample=temperature > 0,
                               temperature=temperature or 1.0, seed=seed, show_progress=False,
                               desc=f"{'policy' if side == 'chosen' else 'reference'} {Path(folder).name}")
        del model
    rows = {"prompt": repeated, "chosen": sides["chosen"], "rejected": sides["rejected"],
            "sample": [i % samples_per_prompt for i in range(len(repeated))]}
    in_val = np.repeat(held, samples_per_prompt)
    pick = lambda mask: {k: [v for v, m in zip(col, mask) if m] for k, col in rows.items()}  # noqa: E731
    return datasets.DatasetDict({"train": datasets.Dataset.from_dict(pick(~in_val)),
                                 "validation": datasets.Dataset.from_dict(pick(in_val))})


def _accuracy_interval(reward_chosen: np.ndarray, reward_rejected: np.ndarray) -> dict:
    """The held-out pair accuracy with its 95% Wilson interval (pairs counted as independent: with several samples
    per prompt the interval is somewhat too narrow)."""
    from scipy.stats import binomtest

    d = np.asarray(reward_chosen) - np.asarray(reward_rejected)
    k, n = int(np.sum(d > 0) + np.sum(d == 0) // 2), len(d)
    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    return {"value": metrics.pairwise_accuracy(reward_chosen, reward_rejected), "low": float(ci.low),
            "high": float(ci.high), "n": n}


def _agreement(rewards_by_seed: np.ndarray) -> float:
    return metrics.mean_off_diagonal(metrics.seed_agreement(rewards_by_seed)) if len(rewards_by_seed) > 1 else float("nan")


def _train_probes(reference, texts: dict, *, losses: list[str], settings: dict, say):
    """Probe mode: heads of every loss and seed on the reference's frozen features; the kept one folded into a
    sequence classifier."""
    from irlkit.models import load_backbone, load_tokenizer

    s = settings
    backbone, tok = load_backbone(str(reference), s["device"]), load_tokenizer(str(reference))
    feats = {name: irl.features(backbone, tok, batch, max_length=s["max_length"]) for name, batch in texts.items()}
    del backbone
    seeds = [s["seed"] * 1000 + i for i in range(s["seeds"])]
    candidates, history = [], []
    for loss in losses:
        probes, hist = irl.train_probes(
            feats["train_chosen"], feats["train_rejected"], loss=loss, seeds=seeds, epochs=s["epochs"], lr=s["lr"],
            batch_size=s["batch_size"],
            on_epoch=lambda epoch, ps: [metrics.label_free(p(feats["validation_chosen"]), p(feats["validation_rejected"])) for p in ps])
        history += [{"loss": loss, **row} for row in hist]
        for sd, p in zip(seeds, probes):
            candidates.append({"loss": loss, "seed": sd, "probe": p,
                               **metrics.label_free(p(feats["validation_chosen"]), p(feats["validation_rejected"]))})
        say(f"[recover]   {loss}: best held-out pair accuracy {max(c['val_pairwise_accuracy'] for c in candidates if c['loss'] == loss):.3f}")
    kept = candidates[metrics.label_free_best(candidates)]
    probe = kept["probe"]
    val_texts = np.concatenate([feats["validation_chosen"], feats["validation_rejected"]])
    same_loss = np.stack([c["probe"](val_texts) for c in candidates if c["loss"] == kept["loss"]])
    null = _null_accuracies(feats, loss=kept["loss"], settings=s) if s["null_heads"] else []

    reward, offset = probe_as_classifier(reference, probe, s["max_length"], s["device"])
    return reward, _diagnostics(kept, probe(feats["validation_chosen"]), probe(feats["validation_rejected"]), same_loss,
                                null, extra={"dropped_offset": offset}), history


def probe_as_classifier(reference, probe: irl.LinearProbe, max_length: int, device: str = "cpu"):
    """A probe on `reference`'s last-token features as a sequence classifier of `reference`: its head holds w/σ, so
    it scores φ·w/σ = ((φ − μ)/σ)·w + c with c = μ·w/σ: the probe less its offset −c, which no pairwise loss
    identifies. Returns (reward, c)."""
    from irlkit.models import head_parameters, load_reward_model

    model, tok = load_reward_model(str(reference), device)
    heads = list(head_parameters(model).values())
    if len(heads) != 1 or tuple(heads[0].shape) != (1, len(probe.weight)):
        raise RuntimeError(f"expected one (1, {len(probe.weight)}) head in {type(model).__name__}")
    with torch.no_grad():
        heads[0].copy_(torch.tensor(probe.weight / probe.sigma, dtype=heads[0].dtype)[None])
    return SequenceClassifierReward(model, tok, max_length), float(probe.mu @ (probe.weight / probe.sigma))


def _null_accuracies(feats: dict, *, loss: str, settings: dict) -> list[float]:
    """Held-out pair accuracy of heads trained on the training pairs with each pair's orientation flipped at random:
    what fitting a head to pairs that carry no preference reaches."""
    s = settings
    rng = np.random.default_rng(s["seed"] + 7919)
    out = []
    for i in range(s["null_heads"]):
        flip = rng.random(len(feats["train_chosen"])) < 0.5
        a = np.where(flip[:, None], feats["train_rejected"], feats["train_chosen"])
        b = np.where(flip[:, None], feats["train_chosen"], feats["train_rejected"])
        (p,), _ = irl.train_probes(a, b, loss=loss, seeds=[s["seed"] * 1000 + 500 + i], epochs=s["epochs"], lr=s["lr"],
                                   batch_size=s["batch_size"])
        out.append(metrics.pairwise_accuracy(p(feats["validation_chosen"]), p(feats["validation_rejected"])))
    return out


def _diagnostics(kept: dict, r_chosen: np.ndarray, r_rejected: np.ndarray, same_loss: np.ndarray, null: list[float],
                 extra: dict | None = None) -> dict:
    null = np.asarray(null, float)
    return {"loss": kept["loss"], "seed": int(kept["seed"]), "chosen_by": list(metrics.LABEL_FREE),
            "heldout_pairwise_accuracy": _accuracy_interval(r_chosen, r_rejected),
            "heldout_pair_margin": metrics.pair_margin(r_chosen, r_rejected),
            "null_pairwise_accuracy": {"mean": float(null.mean()) if len(null) else float("nan"),
                                       "p95": float(np.quantile(null, 0.95)) if len(null) else float("nan"),
                                       "n": int(len(null))},
            "seed_agreement": _agreement(same_loss), "seeds_of_kept_loss": int(len(same_loss)), **(extra or {})}


def _train_top_blocks(reference, texts: dict, *, losses: list[str], settings: dict, say):
    """Full mode: the reference's top `blocks` blocks and a head, per loss and seed; the kept one written back
    into the whole sequence classifier."""
    from irlkit.models import load_backbone, load_reward_model, load_tokenizer

    s = settings
    backbone, tok = load_backbone(str(reference), s["device"]), load_tokenizer(str(reference))
    cached = {name: irl.block_inputs(backbone, tok, batch, blocks=s["blocks"], max_length=s["max_length"])
              for name, batch in texts.items()}
    seeds = [s["seed"] * 1000 + i for i in range(s["seeds"])]
    ic = IRLConfig()
    candidates, history = [], []
    for loss in losses:
        for sd in seeds:
            model, hist = irl.train_top_blocks(
                backbone, cached["train_chosen"], cached["train_rejected"], blocks=s["blocks"], loss=loss, seed=sd,
                epochs=s["epochs"], lr=s["lr"], head_lr=ic.full_head_lr, batch_size=s["batch_size"],
                on_epoch=lambda epoch, m: metrics.label_free(m.score(cached["validation_chosen"]), m.score(cached["validation_rejected"])),
                desc="audit")
            history += [{"loss": loss, "seed": sd, **row} for row in hist]
            candidates.append({"loss": loss, "seed": sd, "model": model, **{k: hist[-1][k] for k in metrics.LABEL_FREE}})
        say(f"[recover]   {loss}: best held-out pair accuracy {max(c['val_pairwise_accuracy'] for c in candidates if c['loss'] == loss):.3f}")
    kept = candidates[metrics.label_free_best(candidates)]
    val = cached["validation_chosen"] + cached["validation_rejected"]
    same_loss = np.stack([c["model"].score(val) for c in candidates if c["loss"] == kept["loss"]])
    reward_model, rtok = load_reward_model(str(reference), s["device"])
    kept["model"].write_into(reward_model)
    reward = SequenceClassifierReward(reward_model, rtok, s["max_length"])
    return reward, _diagnostics(kept, reward.score(texts["validation_chosen"]), reward.score(texts["validation_rejected"]),
                                same_loss, []), history


def evaluate(reward, texts: dict, judge, judge_name: str) -> dict:
    """The kept reward against a judge on the held-out texts of both policies (P(toxic) > 0.5 is toxic, a higher
    reward should mean less toxic): pooled, and within each policy's texts (who wrote a text cannot help there);
    and how often the judge orders the held-out pairs as the policy does (how much of the judge's goal the
    demonstrations carry)."""
    chosen, rejected = texts["validation_chosen"], texts["validation_rejected"]
    r_c, r_r = reward.score(chosen), reward.score(rejected)
    p_c, p_r = judge.score(chosen), judge.score(rejected)
    def auc(r, p):  # undefined (None) where the judge finds every text, or none, toxic
        toxic = metrics.is_toxic(p)
        return metrics.auc(r, toxic) if 0 < toxic.sum() < len(toxic) else None

    return {"judge": judge_name, "auc_pooled": auc(np.concatenate([r_c, r_r]), np.concatenate([p_c, p_r])),
            "auc_policy_texts": auc(r_c, p_c), "auc_reference_texts": auc(r_r, p_r),
            "toxic_share": {"policy": float(np.mean(metrics.is_toxic(p_c))), "reference": float(np.mean(metrics.is_toxic(p_r)))},
            "judge_orders_pairs_as_policy": metrics.pairwise_accuracy(-p_c, -p_r), "n_texts": 2 * len(chosen)}


# -- the command --------------------------------------------------------------------------------------------

EXAMPLE = """example:
  python -m irlkit.recover --policy runs/aligned --reference models/base --prompts prompts.jsonl --out audit \\
      --judge toxblock
"""
AFTER = """prompts.jsonl holds one object per line: {"prompt": "You are such a"}. The new folder --out gets
demonstrations/ (datasets, TRL's prompt/chosen/rejected), reward_model/ (AutoModelForSequenceClassification,
one label, raw scores) and report.json. A worked example: docs/audit.md."""


class _HelpFormat(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description and epilog as written; every option's default shown."""


def main(argv=None) -> int:
    """Recover the reward an aligned policy moved toward, from it and the policy it started from (label-free)."""
    from irlkit.utils import quiet_libraries

    parser = argparse.ArgumentParser(prog="python -m irlkit.recover", description=f"{main.__doc__}\n\n{EXAMPLE}",
                                     epilog=AFTER, formatter_class=_HelpFormat)
    parser.add_argument("--policy", required=True, help="folder of the aligned policy (a causal LM)")
    parser.add_argument("--reference", required=True, help="folder of the policy it started from")
    parser.add_argument("--prompts", required=True, help="JSONL file, one {\"prompt\": ...} per line")
    parser.add_argument("--prompt-field", default="prompt", help="the prompt's key in each line")
    parser.add_argument("--out", required=True, help="a new folder for the reward, the demonstrations and the report")
    parser.add_argument("--judge", default=None, help="evaluate the reward against this judge (toxblock, "
                        "profanity-check, hf:<model folder>[#label]); it never chooses the reward")
    parser.add_argument("--mode", choices=MODES, default="probe", help="a linear head on frozen features, or top blocks")
    parser.add_argument("--loss", default="auto", help=f"auto or one of {', '.join(irl.LOSSES)}")
    parser.add_argument("--samples-per-prompt", type=int, default=4, help="continuations per prompt and policy")
    parser.add_argument("--temperature", type=float, default=1.0, help="0 for greedy (then --samples-per-prompt 1)")
    parser.add_argument("--max-new-tokens", type=int, default=16, help="length of a continuation")
    parser.add_argument("--seeds", type=int, default=8, help="seeds trained per loss")
    parser.add_argument("--with-prompt", action="store_true", help="the reward reads prompt + continuation, as TRL gives it")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--seed", type=int, default=0, help="the split, the sampling and the training seeds")
    args = parser.parse_args(argv)
    quiet_libraries()
    out = Path(args.out)
    try:
        _check_out(out)
        prompts = read_prompts(args.prompts, args.prompt_field)
        audit = recover(args.policy, args.reference, prompts, mode=args.mode, loss=args.loss,
                        samples_per_prompt=args.samples_per_prompt, temperature=args.temperature,
                        max_new_tokens=args.max_new_tokens, seeds=args.seeds, with_prompt=args.with_prompt,
                        judge=args.judge, device=args.device, seed=args.seed)
        audit.save(out)
    except AuditError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    print(audit.summary())
    print(f"\nwritten to {out}/:\n"
          f"  report.json      settings, label-free diagnostics{', the judge evaluation' if audit.evaluation else ''}\n"
          f"  demonstrations/  datasets.load_from_disk('{out}/demonstrations')  (prompt, chosen, rejected)\n"
          f"  reward_model/    pipeline('text-classification', model='{out}/reward_model', function_to_apply='none')\n"
          f"                   or RLOOTrainer(..., reward_funcs='{out}/reward_model')")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
