"""Policies and tokenizers from one kind of source string.

    asset:NAME   a converted registry asset under data/models (cpu profile)
    tiny:SEED    a random GPT-NeoX with a small BPE tokenizer, built locally (smoke profile)
    anything     a Hub id or a local folder in Hub format (paper profile)

`materialise(source)` returns a local folder (TRL rebuilds the KL reference
model from the policy's folder, so policies always live in folders).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from irlkit import layout, store
from irlkit.config import hub_reference

# tiny:SEED -> (hidden, layers, heads); the second tiny model is larger, to have a "size effect"
TINY_SHAPES = {0: (64, 2, 4), 1: (96, 3, 4)}
TINY_VOCAB = 512


def _tiny_corpus() -> list[str]:
    from irlkit.data import _insults_raw

    return sorted(_insults_raw()["text"])


def _build_tiny(seed: int):
    def build(into: Path) -> None:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

        bpe = Tokenizer(models.BPE(unk_token=None))
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=TINY_VOCAB, special_tokens=["<|endoftext|>", "<|pad|>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        bpe.train_from_iterator(_tiny_corpus(), trainer=trainer)
        tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                      pad_token="<|pad|>")
        hidden, layers, heads = TINY_SHAPES.get(seed, (64, 2, 4))
        cfg = GPTNeoXConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                            intermediate_size=4 * hidden, max_position_embeddings=512, eos_token_id=tok.eos_token_id,
                            bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id)
        torch.manual_seed(seed)
        GPTNeoXForCausalLM(cfg).save_pretrained(str(into))
        tok.save_pretrained(str(into))

    return build


def materialise(source: str) -> str:
    """A local folder `from_pretrained` can read: a converted asset (`asset:NAME`), a tiny smoke model
    (`tiny:SEED`), a local folder, or a Hub model `org/name@revision`, downloaded at that revision
    (the paper profile; without `@revision` the Hub's current files, which are not pinned)."""
    if source.startswith("asset:"):
        from irlkit.assets import require

        return str(require(source.split(":", 1)[1]))
    if source.startswith("tiny:"):
        seed = int(source.split(":", 1)[1])
        folder = layout.models_dir() / f"tiny-{seed}"
        store.stage(folder, {"tiny": seed, "shape": TINY_SHAPES.get(seed), "vocab": TINY_VOCAB, "format": 1},
                    _build_tiny(seed), seed=seed, log=lambda _: None)
        return str(folder)
    if Path(source).exists():
        return source
    from huggingface_hub import snapshot_download

    repo, revision = hub_reference(source)
    return snapshot_download(repo, revision=revision)


def check_against(cfg) -> None:
    """Settings that name parts of a model, checked against each size's start model before any work starts:
    `irl.full_blocks` within its number of blocks, `rlhf.lora_targets` among its module names (a ValueError names
    the setting, the size and what the model has). A start model not on this machine yet (an asset not fetched, a
    Hub model, a tiny model not built) is skipped: the stage that fetches it checks its files. A size's start, base
    or already-aligned policy given as a local path must be a model folder."""
    from transformers import AutoConfig, AutoModelForCausalLM

    for spec in cfg.sizes:
        for role in ("start", "base", "aligned"):  # a local folder is named by its path: it must hold a model
            source = getattr(spec, role)
            if source.startswith(("/", ".", "~")) and not (Path(source).expanduser() / "config.json").exists():
                raise ValueError(f"sizes[{spec.name}].{role} = {source!r}: no model folder there (no config.json)")
        kind, _, name = spec.start.partition(":")
        folder = {"asset": layout.models_dir() / name, "tiny": layout.models_dir() / f"tiny-{name}"}.get(
            kind, Path(spec.start))
        if not (folder / "config.json").exists():
            continue
        model_config = AutoConfig.from_pretrained(str(folder))
        blocks = model_config.get_text_config().num_hidden_layers
        if "full" in cfg.irl.modes and cfg.irl.full_blocks > blocks:
            raise ValueError(f"irl.full_blocks = {cfg.irl.full_blocks}, but {spec.name} has {blocks} blocks")
        rc = cfg.rlhf_for(spec.name)
        if rc.lora_rank:
            with torch.device("meta"):  # the architecture without its weights
                model = AutoModelForCausalLM.from_config(model_config)
            linear = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
            missing = [t for t in rc.lora_targets if t not in linear]
            if missing:
                raise ValueError(f"rlhf.lora_targets names {missing}, which {spec.name} has no linear layer of; "
                                 f"its linear layers: {', '.join(sorted(linear))}")


def load_tokenizer(folder: str, padding_side: str = "left"):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = padding_side
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_policy(folder: str, device: str = "cpu"):
    """(causal LM in fp32 eval mode, left-padding tokenizer)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device).eval()
    tok = load_tokenizer(folder)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok


def load_scorer(folder: str, device: str = "cpu", precision: str = "fp32", compiled: bool = False):
    """(causal LM, tokenizer) set up to score continuations (`implicit.continuation_logprobs`): weights in
    `precision`, blocks compiled when `compiled` (`compile_blocks`), right padding."""
    model, tok = load_policy(folder, device)
    if precision == "bf16":
        model.to(torch.bfloat16)
    if compiled:
        compile_blocks(model)
    tok.padding_side = "right"
    return model, tok


def load_backbone(folder: str, device: str = "cpu"):
    """The transformer without its LM head (its last hidden state is normalised)."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(folder, dtype=torch.float32).to(device).eval()


def compile_blocks(model):
    """`model` with each of its transformer blocks compiled in place by `torch.compile` (inductor; shapes dynamic).

        >>> backbone = compile_blocks(load_backbone(folder).to(torch.bfloat16))  # then call it as before

    Inductor fuses the blocks' elementwise work (norms, activations, rotary embeddings, casts) into a few C++
    kernels and leaves the matmuls and attention to oneDNN. The blocks share their code, so one compilation
    (about 20 s per model class; a few seconds once torch's on-disk cache holds it) serves all of them.
    The outputs differ from eager in rounding only (`Config.compile_forward`). Needs a C++ compiler.
    """
    compiler = os.environ.get("CXX", "g++")
    if model.device.type == "cpu" and shutil.which(compiler) is None:
        raise RuntimeError(f"compile_blocks needs a C++ compiler for torch.compile on the CPU and found no "
                           f"{compiler!r} on PATH: install one (e.g. apt install g++) or set compile_forward=False")
    for block in model.base_model.layers:
        block.compile(dynamic=True)
    return model


def load_reward_model(folder: str, device: str = "cpu", num_labels: int = 1):
    """`AutoModelForSequenceClassification` with a scalar head on the last non-pad token."""
    from transformers import AutoModelForSequenceClassification

    tok = load_tokenizer(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=num_labels, dtype=torch.float32)
    model.config.pad_token_id = tok.pad_token_id
    return model.to(device), tok


def head_parameters(reward_model) -> dict[str, torch.nn.Parameter]:
    """{name: parameter} of what a sequence-classification model keeps outside its backbone: the scalar head
    that `load_reward_model` initialises afresh (full mode trains it at its own rate)."""
    backbone = reward_model.base_model_prefix + "."
    return {n: p for n, p in reward_model.named_parameters() if not n.startswith(backbone)}
