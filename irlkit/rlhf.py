"""RLHF through TRL's `RLOOTrainer`, rewarded by a judge or by a learned reward.

TRL 1.16 ships no PPO trainer (it was removed); RLOO is its KL-regularised
on-policy replacement: REINFORCE with a leave-one-out baseline over k
completions per prompt, KL to the reference folded into the reward, and no
value network — on 2 CPU cores that is also the affordable choice. A thin
subclass drops one of its three forwards per step (see `_one_pass_rloo_trainer`).
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from irlkit import store
from irlkit.progress import trainer_callback
from irlkit.utils import progress_enabled


# -- rewards: TRL calls reward(prompts=..., completions=..., **dataset_columns) --------


def reward_function(reward, name: str | None = None, baseline: bool = False):
    """The function TRL's trainers call, from any `irlkit.rewards` reward: r = R(completion); with
    `baseline`, the study's R(completion) − R(original_output) (for the judge: P(original) − P(completion))."""

    def fn(prompts, completions, original_output=None, **_):
        r = reward.score(list(completions))
        if baseline:
            r = r - reward.score(list(original_output))
        return np.asarray(r, dtype=float).tolist()

    fn.__name__ = name or reward.name
    return fn


# -- training -----------------------------------------------------------------


def leave_one_out_mean(values: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """For each row, the mean of the other rows of its group (RLOO's baseline)."""
    totals = torch.zeros(int(group.max()) + 1, dtype=values.dtype, device=values.device).index_add_(0, group, values)
    counts = torch.bincount(group).to(values.dtype)
    return (totals[group] - values) / (counts[group] - 1)


def _one_pass_rloo_trainer():
    from trl import RLOOTrainer

    class OnePassRLOOTrainer(RLOOTrainer):
        """TRL's RLOO without its second policy forward: same algorithm, one forward fewer per step.

        With one optimiser step per batch of completions, the "old" policy that scored them is the
        policy being trained. TRL 1.16 still runs a separate no-gradient policy forward for the KL
        term of the reward, a sizeable share of a step (benchmarks/README.md). Here that forward
        returns zeros and the training forward supplies the numbers:

        - reward: TRL folded r − β·(0 − ref) into the advantage. The missing −β·old is linear, so the
          loss adds its leave-one-out effect: A −= β·(old_i − mean of old over i's siblings).
        - ratio: the old log-probs are the training forward's, detached, so the clipped ratio is
          exactly 1 (TRL's is 1 up to rounding).
        - the logged KL is recomputed from the same numbers.
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            a = self.args
            if (a.num_iterations, a.steps_per_generation, a.gradient_accumulation_steps) != (1, 1, 1) \
                    or a.normalize_advantages or self.beta == 0 or self.ref_model is None:
                raise ValueError("the one-pass RLOO needs one optimiser step per generation batch, "
                                 "no advantage normalisation, beta > 0 and a separate reference model")
            self._scoring = False   # inside TRL's scoring of fresh completions
            self._ref_logps = None  # the reference's per-token log-probs from that scoring
            self._batch = None      # the batch whose training forward is about to run

        def _generate_and_score_completions(self, inputs):
            self._scoring = True
            try:
                batch = super()._generate_and_score_completions(inputs)
            finally:
                self._scoring = False
            self._metrics["train"]["kl"].pop()  # TRL's KL here lacks the policy's part; logged in the loss
            mask = batch["completion_mask"]
            batch["ref_logps"] = (self._ref_logps * mask).sum(1)
            batch["group"] = torch.arange(mask.size(0), device=mask.device) // self.num_generations
            return batch

        def _compute_loss(self, model, inputs):
            self._batch = inputs
            try:
                return super()._compute_loss(model, inputs)
            finally:
                self._batch = None

        def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args,
                                               **kwargs):
            if self._scoring and model is self.model:  # the redundant forward
                return torch.zeros(input_ids.size(0), logits_to_keep, device=input_ids.device), None, None
            out = super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                             *args, **kwargs)
            if self._scoring:
                self._ref_logps = out[0]
            elif self._batch is not None:  # the training forward: finish what scoring left open
                batch, self._batch = self._batch, None
                mask = batch["completion_mask"]
                policy = (out[0].detach() * mask).sum(1)
                batch["old_logps"] = policy
                batch["advantages"] = batch["advantages"] - self.beta * (
                    policy - leave_one_out_mean(policy, batch["group"]))
                self._metrics["train"]["kl"].append(
                    ((policy - batch["ref_logps"]).sum() / mask.sum().clamp(min=1)).item())
            return out

    return OnePassRLOOTrainer


class _Bf16Sampling:
    """Mixin for a TRL RLOO trainer run with `bf16=True` (autocast) on a CPU with bf16 matrix units.

    Under autocast every `generate` step would recast the fp32 weights; sampling instead runs a bf16
    copy of the policy, refreshed once per step, and the frozen reference is cast to bf16 once. The
    training forward and backward run under TRL's autocast; weights and Adam stay fp32.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.ref_model is not None:
            self.ref_model.to(torch.bfloat16)
        self._sampler = None

    def _generate_single_turn(self, *args, **kwargs):
        if self.use_vllm or self.use_transformers_continuous_batching or hasattr(self.model, "peft_config"):
            # (LoRA: the adapters live beside the base weights; sampling runs the policy itself under autocast)
            return super()._generate_single_turn(*args, **kwargs)
        from transformers import AutoModelForCausalLM

        if self._sampler is None:  # built from the config: the policy's forward carries TRL's and accelerate's patches
            self._sampler = AutoModelForCausalLM.from_config(
                self.model.config, dtype=torch.bfloat16,
                attn_implementation=self.model.config._attn_implementation).to(self.model.device).eval()
            self._sampler.generation_config = self.model.generation_config
            self._sampler.load_state_dict(self.model.state_dict())  # every weight and buffer, cast to bf16
            sampler = dict(self._sampler.named_parameters())
            self._trained = [(sampler[name], p) for name, p in self.model.named_parameters() if p.requires_grad]
        else:  # once per step, only what the optimiser changes (frozen embeddings are most of Gemma's weights)
            with torch.no_grad():
                for copy, p in self._trained:
                    copy.copy_(p)
        wrapped, self.model_wrapped = self.model_wrapped, self._sampler
        try:
            return super()._generate_single_turn(*args, **kwargs)
        finally:
            self.model_wrapped = wrapped


class _InverseCdfSampling:
    """Mixin: RLOO's completion tokens drawn by inverse CDF (`sampling.inverse_cdf_sampling`), the patch
    of `torch.multinomial` held only while TRL samples the completions, nowhere else."""

    def _generate_single_turn(self, *args, **kwargs):
        from irlkit.sampling import inverse_cdf_sampling

        with inverse_cdf_sampling(True):
            return super()._generate_single_turn(*args, **kwargs)


PATCHED = {"_generate_and_score_completions": ("self", "inputs"), "_compute_loss": ("self", "model", "inputs"),
           "_get_per_token_logps_and_entropies": ("self", "model", "input_ids", "attention_mask", "logits_to_keep"),
           "_generate_single_turn": ("self",)}
"""The methods of TRL's RLOOTrainer that irlkit overrides, with the leading parameters it relies on
(tests/test_rlhf.py checks them against the installed TRL, so a TRL that changes them fails loudly)."""


@contextlib.contextmanager
def _completion_logprobs_only():
    """Make TRL's fused log-prob head project only the scored (completion) positions on a CPU too.

    `trl.trainer.utils.add_fused_lm_head` scores only positions with a label when `_use_triton(device)`,
    and every position otherwise (prompt and padding included, about two thirds of an RLOO batch),
    so that compilers see fixed tile shapes. Eager torch on a CPU compiles nothing; the name is read
    only for that choice there (the kernels module keeps its own, so the torch tiles still run).
    """
    import trl.trainer.utils as trl_utils

    use_triton = trl_utils._use_triton
    trl_utils._use_triton = lambda device: device.type == "cpu" or use_triton(device)
    try:
        yield
    finally:
        trl_utils._use_triton = use_triton


@contextlib.contextmanager
def _cpu_vocab_head(compiled: bool):
    """TRL's chunked log-prob head (`trl.kernels.chunked_logprob`), tuned for a CPU, while RLOO trains.

    On a device without Triton, TRL folds each [tokens × 32,768] tile of logits into the softmax statistics
    with about ten separate torch passes over it in fp32 (`_forward_tile`, `_backward_tile`), and casts every
    vocabulary chunk of the head to bf16 on every call. For Gemma's 262,144-token head those passes and casts
    were most of an RLOO step (benchmarks/README.md, `bench_rloo_step.py`). Here:

    - a head that does not train (`freeze_embeddings` with tied embeddings, or the bf16 reference) is cast to
      the autocast dtype once, not once per chunk and call: the same numbers;
    - `compiled=True`: each fold runs as one `torch.compile`d kernel (rounding-level differences).
    """
    import trl.kernels.chunked_logprob as kernel
    import trl.trainer.utils as trl_utils

    function, tiles = trl_utils._ChunkedLogProbFunction, (kernel._forward_tile, kernel._backward_tile)
    cast = {}  # id(weight) → (its version, its copy in the autocast dtype)

    class FrozenHeadCastOnce:
        @staticmethod
        def apply(hidden, weight, *rest):
            if not weight.requires_grad and torch.is_autocast_enabled(hidden.device.type):
                dtype = torch.get_autocast_dtype(hidden.device.type)
                version, copy = cast.get(id(weight), (None, None))
                if version != weight._version or copy.dtype != dtype:
                    cast[id(weight)] = weight._version, weight.to(dtype)
                weight = cast[id(weight)][1]
            return function.apply(hidden, weight, *rest)

    trl_utils._ChunkedLogProbFunction = FrozenHeadCastOnce
    if compiled:
        kernel._forward_tile, kernel._backward_tile = _compiled_tiles(*tiles)
    try:
        yield
    finally:
        trl_utils._ChunkedLogProbFunction = function
        kernel._forward_tile, kernel._backward_tile = tiles


@functools.cache
def _compiled_tiles(forward_tile, backward_tile):
    return torch.compile(forward_tile, dynamic=True), torch.compile(backward_tile, dynamic=True)


class _JsonlLog:
    """A TrainerCallback that appends every log line to a JSON-lines file."""

    def __init__(self, path: Path):
        from transformers import TrainerCallback

        self.path = path
        outer = self

        class Callback(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if not state.is_world_process_zero:  # under `accelerate launch`: one log, the first process's
                    return
                with open(outer.path, "a") as f:
                    f.write(json.dumps({"step": state.global_step, **(logs or {})}) + "\n")

        self.callback = Callback()


class _PathLog:
    """A TrainerCallback that measures the policy every `every` steps (and before the first) with `measure(model,
    step)` (e.g. `stages.policies.ValPath`) and appends each point to `path`, a JSON-lines file. It draws no random
    number of RLOO's (the measurement keeps its own), so training goes exactly as without it; its seconds are kept
    apart from RLOO's. A `first` point already measured (the start's, the same for every run) is written as the
    step-0 point instead of measuring it again."""

    def __init__(self, path: Path, measure, every: int, first: dict | None = None):
        from transformers import TrainerCallback

        self.path, self.seconds = path, 0.0
        outer = self

        def record(model, step: int) -> None:
            t0 = time.time()
            with torch.random.fork_rng(), open(outer.path, "a") as f:  # RLOO's random stream goes on as it was
                f.write(json.dumps(measure(model, step)) + "\n")
            outer.seconds += time.time() - t0

        class Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kwargs):
                if first is None:
                    record(model, 0)
                else:
                    with open(outer.path, "a") as f:
                        f.write(json.dumps(first) + "\n")

            def on_step_end(self, args, state, control, model=None, **kwargs):
                if state.global_step % every == 0 or state.global_step == state.max_steps:
                    record(model, state.global_step)

        self.callback = Callback()


def train(start_folder: str, train_prompts: pd.DataFrame, reward_fn, rc, out: Path, *, max_new_tokens: int,
          seed: int, device: str = "cpu", desc: str = "policy", measure=None, measure_every: int = 0,
          first_point: dict | None = None) -> dict:
    """RLOO from `start_folder` (also the KL reference) on the train prompts; saves the policy into `out`.

    `rc` is the size's resolved RLHF section (`Config.rlhf_for(size)`): a per-size override is never lost to a
    default. `max_new_tokens` is the horizon (`sampling.max_new_tokens`), `seed` the training seed.
    Writes `out/log.jsonl` (reward, kl, loss, entropy, completion length per step). With `measure` and
    `measure_every` > 0, also `out/path.jsonl`: `measure(model, step)` at step 0, every `measure_every` steps and at
    the last (`_PathLog`); `first_point`, when given, is the step-0 point already measured on the start
    (`stages.policies.start_point`). Returns a summary (RLOO's seconds without the measurements', which it gives apart).
    """
    from accelerate import PartialState
    from datasets import Dataset
    from trl import RLOOConfig, RLOOTrainer

    from irlkit.models import load_policy

    model, tok = load_policy(start_folder, device)
    model.train()
    if rc.freeze_embeddings:  # (a tied output head is the same parameter, so it stays too)
        model.get_input_embeddings().weight.requires_grad_(False)
    dataset = Dataset.from_pandas(train_prompts[["prompt", "original_output"]].reset_index(drop=True))
    args = RLOOConfig(
        output_dir=str(out / "trainer"), max_steps=rc.steps, learning_rate=rc.learning_rate, beta=rc.beta,
        num_generations=rc.num_generations, per_device_train_batch_size=rc.prompts_per_step * rc.num_generations,
        max_completion_length=max_new_tokens, temperature=rc.temperature, top_k=0, top_p=1.0,
        logging_steps=1, save_strategy="no", report_to="none", seed=seed, data_seed=seed,
        bf16=rc.precision == "bf16", fp16=False, gradient_checkpointing=False, use_cpu=device == "cpu",
        disable_tqdm=not progress_enabled(), dataloader_num_workers=0, lr_scheduler_type="constant",
    )
    log = _JsonlLog(out / "log.jsonl")
    path = _PathLog(out / "path.jsonl", measure, measure_every, first_point) if measure is not None and measure_every > 0 else None
    # The leave-one-out correction needs every prompt's completions in one process, and a separate
    # reference model (with LoRA the reference is the adapter-disabled policy): TRL's trainer otherwise.
    one_pass = rc.one_pass and PartialState().num_processes == 1 and not rc.lora_rank
    trainer_class = _one_pass_rloo_trainer() if one_pass else RLOOTrainer
    if rc.precision == "bf16":
        trainer_class = type(f"Bf16{trainer_class.__name__}", (_Bf16Sampling, trainer_class), {})
    if rc.inverse_cdf_sampling:
        trainer_class = type(f"InverseCdf{trainer_class.__name__}", (_InverseCdfSampling, trainer_class), {})
    trainer = trainer_class(model=model, reward_funcs=reward_fn, args=args, train_dataset=dataset,
                          processing_class=tok, callbacks=[log.callback, trainer_callback(f"[rlhf] {desc}", rc.steps),
                                                                *([path.callback] if path else [])],
                          peft_config=_lora(rc))
    t0 = time.time()
    with contextlib.ExitStack() as patches:
        if rc.completion_logprobs_only:
            patches.enter_context(_completion_logprobs_only())
        if device == "cpu":
            patches.enter_context(_cpu_vocab_head(compiled=rc.compiled_head))
        trainer.train()
    measured = path.seconds if path else 0.0
    wall = time.time() - t0 - measured
    if rc.lora_rank:  # the adapters merged into the weights: the saved policy loads like any other
        trainer.model.merge_and_unload().save_pretrained(str(out))
    else:
        trainer.save_model(str(out))
    tok.save_pretrained(str(out))
    summary = {"steps": rc.steps, "wall_seconds": wall, **({"path_seconds": measured} if path else {})}
    store.atomic_write_json(out / "summary.json", summary)
    return summary


def _lora(rc):
    """TRL's `peft_config` for `rlhf.lora_rank` > 0 (LoRA on `lora_targets`), else None (every weight trains)."""
    if not rc.lora_rank:
        return None
    from peft import LoraConfig

    return LoraConfig(r=rc.lora_rank, lora_alpha=rc.lora_alpha, target_modules=list(rc.lora_targets), lora_dropout=0.0,
                      bias="none", task_type="CAUSAL_LM")


def read_log(folder: Path) -> pd.DataFrame:
    """The per-step training log of a policy folder, with the columns the figures use."""
    df = pd.read_json(Path(folder) / "log.jsonl", lines=True)
    df = df[df.get("reward").notna()] if "reward" in df else df
    keep = {"step": "step", "reward": "reward", "kl": "kl", "loss": "loss", "entropy": "entropy",
            "completions/mean_length": "completion_length"}
    return df[[c for c in keep if c in df]].rename(columns=keep).reset_index(drop=True)


def read_path(folder) -> list[dict]:
    """The toxicity–KL path of a policy folder (`train`'s `path.jsonl`), step 0 first; [] when it has none."""
    path = Path(folder) / "path.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


# -- evaluation of a policy ----------------------------------------------------------


def continuations(folder: str, prompts: list[str], cfg, desc: str = "generate") -> list[str]:
    """One continuation per prompt with the profile's decoding (greedy by default, as the study), batched."""
    from irlkit.models import load_policy
    from irlkit.sampling import generate

    model, tok = load_policy(folder, cfg.device)
    sc = cfg.sampling
    if sc.precision == "bf16":
        model.to(torch.bfloat16)
    return generate(model, tok, prompts, max_new_tokens=sc.max_new_tokens, batch_size=sc.batch_size,
                    do_sample=sc.do_sample, temperature=sc.temperature, seed=cfg.seed,
                    show_progress=progress_enabled(cfg), desc=desc)


def samples(folder: str, prompts: list[str], k: int, cfg, desc: str = "sample") -> list[str]:
    """`k` continuations per prompt sampled at temperature 1 (prompt by prompt: prompt 0's k, then prompt 1's, ...),
    in the profile's sampling precision, seeded by the profile's seed."""
    from irlkit.models import load_policy
    from irlkit.sampling import generate, inverse_cdf_sampling

    model, tok = load_policy(folder, cfg.device)
    sc = cfg.sampling
    if sc.precision == "bf16":
        model.to(torch.bfloat16)
    with inverse_cdf_sampling(True):
        return generate(model, tok, [p for p in prompts for _ in range(k)], max_new_tokens=sc.max_new_tokens,
                        batch_size=sc.batch_size, do_sample=True, temperature=1.0, seed=cfg.seed,
                        show_progress=progress_enabled(cfg), desc=desc)


def perplexity(folder: str, texts: list[str], cfg, max_tokens: int = 128) -> float:
    """exp(mean token NLL) of human texts (each cut to `max_tokens`): the 'still speaks English' check."""
    from irlkit.implicit import continuation_logprobs
    from irlkit.models import load_policy

    model, tok = load_policy(folder, cfg.device)
    logp, n = continuation_logprobs(model, tok, [""] * len(texts), texts, max_tokens=max_tokens,
                                   vocab_block=cfg.eval.logprob_vocab_block)
    return math.exp(-logp.sum() / max(n.sum(), 1))
