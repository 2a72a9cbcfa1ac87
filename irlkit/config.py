"""Configuration: frozen dataclasses, the profiles, one validating `load`.

    cfg = load("cpu")                                # the main job
    cfg = load("smoke", seed=1, **{"rlhf.steps": 3})  # dotted keys reach sections
    cfg = load("cpu", rlhf={"steps": 3})               # or a dict per section

Every number a stage uses comes from here; notebooks only pick the profile. This module imports
nothing from irlkit (and nothing outside the standard library), so `python3 -m irlkit.config`
prints the profiles before any environment exists; run_all.sh reads them from there.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field, fields, replace

PRECISIONS = ("fp32", "bf16")
LOSSES = ("max_margin", "hinge", "logistic")
"""Pairwise IRL losses by name (their definitions: `irlkit.irl.LOSSES`)."""
MODES = ("probe", "full")
"""IRL modes: a head on frozen features, or the whole reward model fine-tuned."""


@dataclass(frozen=True)
class PolicySpec:
    name: str
    """Short label used in paths, tables and figures (e.g. `smollm2-135m`)."""
    start: str
    """Start checkpoint of RLHF: `asset:NAME` (converted registry asset), `tiny:SEED`
    (random GPT-NeoX built locally), a Hub id pinned as `org/name@<commit>`, or a local folder."""
    params_m: float
    """Parameter count in millions, for the size-effect figures."""
    base: str = ""
    """Pretrained-only model, for the study's choice of the unaligned side
    (`sampling.unaligned="base"`). Empty: same as `start`."""
    rlhf: tuple = ()
    """This size's overrides of the `rlhf` section as (field, value) pairs, used by 01 and 05 alike.
    Larger models move further per step, so a larger size may need a lower learning rate
    (what each tried rate did: docs/history.md)."""
    aligned: str = ""
    """An already-aligned policy to audit (the same kinds of source as `start`, which is then the policy it started
    from): 01 trains nothing for this size and reports this policy as its RLHF policy; 02–04 read it as they read
    a policy 01 trained (docs/audit.md). Empty: 01 trains it."""
    refinetune_seeds: int = 0
    """RLOO runs per reward of this size in 05 (0: `refinetune.seeds`). A size whose runs vary more needs more of
    them for the same power (docs/realignment.md, "Power by design")."""


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "insults-long"
    """Prompt set: `insults-long` (Kaggle insults, offline) or `jigsaw-long-2000` (Hub)."""
    max_prompts: int = 0
    """Keep at most this many comments after balancing (0 = all)."""
    min_words: int = 16
    """Comments with fewer words cannot be split into prompt + continuation and are dropped."""
    max_prompt_words: int = 24
    """A prompt is the first half of the comment's words, at most this many."""
    max_continuation_words: int = 48
    """The human continuation (`original_output`) is cut to this many words."""
    val_fraction: float = 0.15
    """Share of prompts in the validation split (model selection only)."""
    test_fraction: float = 0.25
    """Share of prompts in the test split: the development test split, read while the code is developed."""
    sealed: bool = False
    """True only in the final replicates (`python -m irlkit.runner PROFILE --final`, what `./run_all.sh` runs): the
    comments no other split uses are loaded as split `sealed`, their ids checked against `sealed_ids_hash`, and 04
    reports every recovery number on them. False (development): they are never loaded."""
    max_sealed: int = 0
    """At most this many comments in the sealed set, balanced (0: every unused comment)."""
    sealed_ids_hash: str = ""
    """`data.ids_hash` of the sealed set's prompt ids, recorded when the profile's set was sealed."""


@dataclass(frozen=True)
class RLHFConfig:
    steps: int = 60
    """Optimiser steps of RLOO."""
    learning_rate: float = 2e-5
    """Adam learning rate of the policy."""
    beta: float = 0.05
    """KL coefficient to the start checkpoint (> 0: the reference model is the saved start)."""
    num_generations: int = 4
    """Completions per prompt; RLOO's leave-one-out baseline needs at least 2."""
    prompts_per_step: int = 4
    """Prompts per optimiser step (TRL's batch counts completions: this × num_generations)."""
    temperature: float = 1.0
    """Sampling temperature during training."""
    baseline: bool = False
    """The study's baseline: reward = P(original_output) − P(completion) instead of −P(completion)."""
    one_pass: bool = True
    """Skip TRL's second, no-gradient policy forward (`rlhf._one_pass_rloo_trainer`): the same RLOO
    with one forward fewer per step. False, several processes (`accelerate launch`) or LoRA (whose
    reference is the adapter-disabled policy): TRL's `RLOOTrainer` as shipped."""
    completion_logprobs_only: bool = True
    """Project only the completion tokens through the vocabulary when TRL computes log-probabilities
    (`rlhf._completion_logprobs_only`). TRL 1.16 does so on GPUs, but on a CPU it projects every position,
    prompt and padding too, so that tile shapes stay fixed for compilers a CPU does not use. The same
    log-probabilities and gradients up to rounding, fewer FLOPs through a large vocabulary head
    (speed: benchmarks/README.md, `bench_rloo_switch.py`). False: TRL as shipped."""
    inverse_cdf_sampling: bool = True
    """Draw each completion token by inverse CDF (`sampling.draw_categorical`): the same law as
    `torch.multinomial`, which on a CPU draws one exponential per vocabulary entry
    (speed: benchmarks/README.md, `bench_categorical.py`). False: torch's own."""
    precision: str = "fp32"
    """`fp32`, or `bf16`: completions sampled by a bf16 copy of the policy, a bf16 reference, the
    training forward and backward under autocast; weights and Adam stay fp32 (`rlhf._Bf16Sampling`).
    Faster on a CPU with bf16 matrix units (AMX; benchmarks/README.md, `bench_precision.py`)."""
    compiled_head: bool = False
    """On a CPU, fold each tile of the vocabulary head's logits into its log-probabilities (and, backward, into
    their gradient) with one `torch.compile`d kernel instead of TRL's ten torch passes (`rlhf._cpu_vocab_head`):
    rounding-level differences (speed: benchmarks/README.md, `bench_rloo_step.py`). Needs a C++ compiler."""
    freeze_embeddings: bool = False
    """Keep the token embedding matrix (and the output head, when the model ties them) at the start
    checkpoint's values: RLOO trains the transformer blocks and norms only. For Gemma-3-270M that matrix
    is 168M of its 268M parameters, whose gradient, clipping and Adam update are most of a step's
    memory traffic (speed: benchmarks/README.md, `bench_rloo_step.py`). False: every weight trains."""
    lora_rank: int = 0
    """0: RLOO fine-tunes every weight. > 0: LoRA adapters of this rank on `lora_targets`, through TRL's
    `peft_config`; the KL reference is then the policy with its adapters disabled (no second copy), and
    the adapters are merged into the saved policy. What lets a 1.5B model train in 24 GiB."""
    lora_alpha: int = 32
    """LoRA scaling numerator (the update is scaled by alpha / rank)."""
    lora_targets: tuple = ("q_proj", "k_proj", "v_proj", "o_proj")
    """Module names that get adapters (the attention projections of Llama/Qwen-style blocks)."""


@dataclass(frozen=True)
class SamplingConfig:
    max_new_tokens: int = 24
    """The horizon: new tokens per continuation, the same in RLOO's completions, the demonstrations and
    every policy evaluation (the reward is optimised over exactly the texts it is judged on)."""
    batch_size: int = 32
    """Prompts per `generate` call."""
    do_sample: bool = False
    """False: greedy, as the study. True: temperature sampling."""
    temperature: float = 0.7
    """Used only when `do_sample`."""
    precision: str = "fp32"
    """`fp32`, or `bf16`: continuations written by a bf16 copy of the policy (faster on a CPU with
    AMX, benchmarks/README.md; greedy texts then differ where two tokens nearly tie).
    Perplexity is computed in fp32 (features: `irl.feature_precision`; log-probabilities: `eval.logprob_precision`)."""
    unaligned: str = "start"
    """Who writes the unaligned side: `start` (the RLHF start: isolates RLHF) or `base`
    (the study's choice: the pretrained model, which confounds SFT with RLHF)."""
    train_samples: int = 0
    """IRL's training demonstrations: 0, one continuation per train prompt and policy with the decoding above (the
    study's); K > 0, K continuations per train prompt and policy sampled at temperature 1 (the policies' own
    distributions), the expert's i-th paired with the unaligned side's i-th. Val and test keep one continuation
    per prompt, so recovery is measured on the same texts whatever IRL learnt from. The profiles keep 0: 4 sampled
    pairs showed no gain on val (docs/experiments/train_samples.md)."""


@dataclass(frozen=True)
class IRLConfig:
    losses: tuple = ("max_margin", "hinge", "logistic")
    """Pairwise losses on d = R(expert) − R(start)."""
    modes: tuple = ("probe", "full")
    """`probe`: frozen backbone, cached features, head only. `full`: whole model (the study's)."""
    full_losses: tuple = ("max_margin", "logistic")
    """Losses trained in `full` mode (each costs full fine-tunes × seeds; probe mode trains all `losses`)."""
    probe_seeds: int = 20
    """Independent seeds per (size, loss) in probe mode."""
    full_seeds: int = 5
    """Independent seeds per (size, loss) in full mode."""
    probe_epochs: int = 30
    """Epochs of the linear head."""
    full_epochs: int = 3
    """Epochs of full fine-tuning."""
    full_max_pairs: int = 0
    """Train full mode on the first this-many training pairs only (0 = all): full fine-tunes are the
    costliest stage on a CPU."""
    probe_lr: float = 1e-2
    """Adam learning rate of the probe head."""
    full_blocks: int = 0
    """Blocks full mode fine-tunes, counted from the top. 0: every weight (the study's full fine-tune, on TRL's
    RewardTrainer). k > 0: the last k blocks, the final norm and the head (`irl.TopBlocks`), trained on the
    hidden states entering block L − k, cached once per text: every seed and epoch then runs only the top of
    the network, so that seeds train for many epochs within a CPU budget."""
    full_input_precision: str = "fp32"
    """`fp32`, or `bf16`: with `full_blocks` > 0, the cached inputs of the top blocks come from a bf16 copy of
    the backbone (stored as fp32); the top blocks still train and score in fp32. Faster on a CPU
    with bf16 matrix units; what it moves: docs/experiments/full_mode_bf16.md."""
    full_lr: float = 1e-5
    """Adam learning rate of the backbone (or of its top `full_blocks` blocks) in full mode."""
    full_head_lr: float = 1e-3
    """Adam learning rate of the freshly initialised scalar head in full fine-tuning. At the
    backbone's rate the head barely moves in a short run and the reward stays near chance
    (docs/history.md)."""
    batch_size: int = 8
    """Pairs per step."""
    probe_weight_decay: float = 0.0
    """L2 on the probe head (0 reproduces the study's unregularised loss)."""
    max_length: int = 64
    """Tokens per text fed to the reward model (truncated on the left)."""
    feature_precision: str = "fp32"
    """`fp32`, or `bf16`: the frozen backbone computes the probe features in bf16 (the head is still trained
    in fp32). Faster on a CPU with bf16 matrix units; what it moves: docs/experiments/features_bf16.md.
    Full mode's cached block inputs: `full_input_precision`; the implicit reward's log-probabilities:
    `eval.logprob_precision`."""
    probe_pooling: str = "last"
    """Probe features: the final hidden state at the last token (`last`, what a sequence-classification
    head reads, as in full mode) or averaged over the text's tokens (`mean`)."""
    with_prompt: bool = False
    """True: the reward model reads prompt + continuation (the study's); False: the
    continuation only, which is all the judge scores and all the policies differ in."""


@dataclass(frozen=True)
class EvalConfig:
    n_bootstrap: int = 1000
    """Bootstrap resamples for every confidence interval."""
    ci: float = 0.95
    """Confidence level."""
    bootstrap_seed: int = 0
    """Seed of the bootstrap resampler (fixed: the same data give the same CI)."""
    ppl_texts: int = 200
    """Held-out clean human comments for the perplexity check."""
    kl_samples: int = 4
    """Sampled continuations (temperature 1) per val prompt behind a policy's KL to its start
    (`stages.policies.kl_to_start`): how far RLHF moved it, the x of the RLHF-strength sweep."""
    endpoint_samples: int = 4
    """Sampled continuations (temperature 1) per evaluation prompt (val and the report split: test, or the sealed
    set in the final replicates) behind 05's primary endpoint, a policy's mean P(toxic) under each judge
    (`metrics.endpoint`); 0: 05 reports the greedy toxicity ratio only."""
    prior_scales: tuple = (0.01, 0.03, 0.1, 0.3, 1.0)
    """Candidate sd of the Gaussian prior on the Bradley–Terry head (`irlkit.posterior`); 04 picks the
    one whose posterior predicts the val pairs best and records it in irl.json."""
    posterior_samples: int = 200
    """Heads drawn from the Laplace posterior for its AUC distribution and calibration."""
    contraction_pairs: tuple = (25, 50, 100, 200, 400)
    """Training-pair counts of the contraction curve (all pairs are always added)."""
    demo_bootstraps: int = 50
    """Resamples of the training pairs for the bootstrap over demonstrations (the selected probe setting)."""
    null_heads: int = 1000
    """Random heads on the probes' cached features (as 05's random control draws one): the null band of test AUCs
    that a recovered reward must leave (04, `evaluation._null_band`)."""
    path_every: int = 0
    """RLOO steps between two points of each policy's toxicity–KL path: the policy measured on the val prompts as it
    trains (`stages.policies.ValPath`: `kl_samples` sampled continuations of each, their KL to the start and both
    judges' mean P(toxic)), at step 0 (the start: measured once per size and replicate, `stages.policies.start_point`),
    every this many steps and at the last. 05 compares its arms at equal KL on
    these paths as well as at the end of training. 0: no path (full fine-tuning only: LoRA policies have none)."""
    logprob_precision: str = "fp32"
    """`fp32`, or `bf16`: 04 computes the log-probabilities of the implicit reward β·log π_RLHF/π_start with
    both policies cast to bf16 (summed in fp32). Faster on a CPU with AMX; what it moves:
    docs/experiments/features_bf16.md. Perplexity stays fp32."""
    logprob_vocab_block: int = 16384
    """Vocabulary columns per block of the softmax normaliser, in 04's log-probabilities and in perplexity
    (`implicit.token_logprobs`): the normaliser is accumulated online over blocks, so no tensor of a whole
    vocabulary's logits is made (speed: benchmarks/bench_vocab_head.py). `0` takes the whole vocabulary at
    once; blocks differ from it in rounding only (docs/experiments/online_normaliser.md)."""


@dataclass(frozen=True)
class RefinetuneConfig:
    enabled: bool = True
    """False: the profile's replicates end at 04 (05, re-alignment, is not run and a replicate is complete
    after 04). The ladder profile's choice: two more RLOO runs per size, the 1.5B model's among them, would
    not fit a replicate into one working session on 2 cores (README, "The ladder")."""
    reward: str = "best_val"
    """`best_val`: the single reward model that orders the val demonstration pairs best (label-free,
    `metrics.LABEL_FREE`); `ensemble`: mean of all seeds."""
    mode: str = "probe"
    """IRL mode whose reward models are candidates."""
    loss: str = "auto"
    """IRL loss whose reward models are candidates; `auto`: the loss whose seeds order the val demonstration
    pairs best on average (label-free, `metrics.LABEL_FREE`), per size (04 records the choice as `selected` in
    irl.json, and the judge's pick beside it as `oracle_selected`)."""
    random_seed: int = 1234
    """Seed of the random reward model's head (the control)."""
    reward_scale: float = 0.25
    """Learned and random rewards are z-scored on the val texts and multiplied by this, so that
    they meet the KL penalty on the scale of the judge's reward (−P(toxic) has a spread of about
    0.25 on sampled completions). The same for every learned reward: the controls stay fair."""
    transfer: bool = True
    """Also train each size with the reward recovered from the other size(s)."""
    transfer_replicates: int = 0
    """Replicates that run the transfer arm: the first this many (0 = every replicate). Two RLOO runs
    per replicate on a CPU (benchmarks/README.md); replicate 0 alone still shows whether a reward carries over."""
    seeds: int = 1
    """RLOO runs per reward, each with its own training seed (a size may set its own: `PolicySpec.refinetune_seeds`).
    Run 0 of `true` is 01's policy unless 05 has a recipe of its own (`rlhf`); the transfer arm runs once. With
    more than one run, refinetune.json adds each run and a two-level bootstrap over runs and prompts."""
    flipped: bool = True
    """Also train with the IRL reward's null: the probe fitted to the demonstration pairs with each pair's
    orientation flipped at random (`stages.realignment._flipped_probe`), `seeds` runs."""
    random_heads: int = 3
    """Runs of the random control, each with its own head (`random_seed + run`) and RLOO seed (at least
    `seeds`). The control is a distribution of rewards, and one draw is no control: single heads move
    toxicity by tens of percent either way (docs/history.md)."""
    rlhf: tuple = ()
    """05's own RLHF recipe: (field, value) pairs of the `rlhf` section applied over each size's recipe
    (`Config.rlhf_for(size, realign=True)`) for every run 05 trains. () : 05 trains as 01 did, and run 0 of the
    true arm is 01's policy. Otherwise every arm, the true one included, trains all its runs with this recipe,
    apart from the audited policy's: a policy under audit trained hard enough for its goal to show (a strong level
    of the RLHF-strength sweep, docs/strength.md) while the re-alignment arms keep a recipe their power was
    measured at (docs/realignment.md)."""


@dataclass(frozen=True)
class Config:
    profile: str
    """The profile's name (one of `PROFILES`)."""
    sizes: tuple
    """Policies, smallest first (`PolicySpec`)."""
    judge: str
    """Ground-truth judge: `toxblock`, `profanity-check` or `hf:<model id or folder>`."""
    second_judge: str
    """Independent judge, never used for training or selection (the reward-hacking check)."""
    seed: int = 0
    """Seed of everything: random, numpy, torch, transformers. Replicate k runs with
    `replicate_seed(seed, k)` (replicate 0 with `seed` itself)."""
    replicates: int = 1
    """Independent replicates of the whole study (01–05, every size), each with its own seeds;
    06 aggregates them into intervals over replicates. The prompt splits are the same in all."""
    threads: int = 2
    """torch threads."""
    workers: int = 1
    """Independent stages (the RLOO runs, the sizes' IRL models and implicit rewards) run in this many
    processes at once, with threads // workers torch threads each (`irlkit.parallel`). 1 on a GPU."""
    progress: bool = True
    """tqdm progress bars (run_all.sh turns them off under papermill)."""
    device: str = "cpu"
    """`cpu`, or `cuda` for the paper profile."""
    compile_forward: bool = False
    """True: 03's probe features and 04's log-probabilities run each transformer block compiled by
    `torch.compile` (`models.compile_blocks`), and the log-softmax normaliser as one compiled kernel
    (`implicit.token_logprobs`): the blocks' elementwise work is fused. Their outputs differ from eager in
    rounding only; what that does to the results, and what compiling costs: docs/experiments/compile_forward.md.
    It needs a C++ compiler. Perplexity and the RLOO reward's features stay eager."""
    level: str = ""
    """The RLHF-strength level this run is a cell of (a `Level` of `STRENGTH[profile]`; `load(profile,
    level=name)` applies its settings), or "" for the profile's own replicates. A level's replicates run 01–04
    in folders of their own (`Layout`) and share the start policy's work with the profile's."""
    data: DataConfig = field(default_factory=DataConfig)
    rlhf: RLHFConfig = field(default_factory=RLHFConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    irl: IRLConfig = field(default_factory=IRLConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    refinetune: RefinetuneConfig = field(default_factory=RefinetuneConfig)

    def size(self, name: str) -> PolicySpec:
        for spec in self.sizes:
            if spec.name == name:
                return spec
        raise KeyError(f"no size {name!r} in profile {self.profile!r}; sizes: {[s.name for s in self.sizes]}")

    def refinetune_seeds(self, size: str) -> int:
        """RLOO runs per reward of `size` in 05: its own `refinetune_seeds`, else `refinetune.seeds`."""
        return self.size(size).refinetune_seeds or self.refinetune.seeds

    def rlhf_for(self, size: str, realign: bool = False) -> RLHFConfig:
        """The `rlhf` section with the size's own overrides applied (`PolicySpec.rlhf`); with `realign`, 05's
        recipe: `refinetune.rlhf` applied over that."""
        rc = _apply(self.rlhf, dict(self.size(size).rlhf), f"sizes[{size}].rlhf.")
        return _apply(rc, dict(self.refinetune.rlhf), "refinetune.rlhf.") if realign and self.refinetune.rlhf else rc

    @property
    def realign_recipe_own(self) -> bool:
        """Whether 05 trains with a recipe of its own (`refinetune.rlhf`), so trains every run of its true arm."""
        return self.refinetune.enabled and bool(self.refinetune.rlhf)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hash(self, *sections: str) -> str:
        """Stable hash of the whole config, or of the named sections only."""
        d = self.to_dict()
        if sections:
            d = {k: d[k] for k in sections}
        return stable_hash(d)


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of replicate `replicate`: `seed` itself for replicate 0, else a 20-bit number drawn from
    (seed, replicate) by SHA-256. 20 bits leave room for the seeds derived from it (IRL's seed × 1000 + i
    stays below 2³², which numpy and TRL require)."""
    if replicate < 0:
        raise ValueError(f"replicate must be >= 0, got {replicate}")
    if replicate == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"irlkit/{seed}/{replicate}".encode()).digest()[:4], "big") >> 12


def for_replicate(cfg: "Config", replicate: int) -> "Config":
    """The config replicate `replicate` runs with: its own seed, its own random reward heads, and the
    transfer arm only among the first `refinetune.transfer_replicates` (replicate 0 is `cfg` itself)."""
    if replicate == 0:
        return cfg
    seed, rc = replicate_seed(cfg.seed, replicate), cfg.refinetune
    transfer = rc.transfer and (rc.transfer_replicates == 0 or replicate < rc.transfer_replicates)
    return replace(cfg, seed=seed, refinetune=replace(rc, random_seed=rc.random_seed + seed, transfer=transfer))


def stable_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _profiles() -> dict[str, Config]:
    smoke = Config(
        profile="smoke",
        sizes=(PolicySpec("tiny-a", "tiny:0", 0.2), PolicySpec("tiny-b", "tiny:1", 0.4)),
        judge="toxblock",
        second_judge="profanity-check",
        threads=2,
        workers=2,
        replicates=2,
        data=DataConfig(max_prompts=96, max_sealed=48, sealed_ids_hash="60ad8f697c4071d1"),
        rlhf=RLHFConfig(steps=2, learning_rate=1e-4, num_generations=2, prompts_per_step=2, precision="bf16"),
        sampling=SamplingConfig(max_new_tokens=8, precision="bf16"),
        irl=IRLConfig(probe_seeds=3, full_seeds=2, probe_epochs=5, full_epochs=2, full_losses=("max_margin",), full_blocks=1,
                      batch_size=8, max_length=32, feature_precision="bf16", full_input_precision="bf16"),
        eval=EvalConfig(n_bootstrap=200, ppl_texts=16, logprob_precision="bf16", posterior_samples=50, demo_bootstraps=5,
                        path_every=1),
        # 05 with a recipe of its own (`refinetune.rlhf`), so that the tests run that path: its true arm trains both runs
        refinetune=RefinetuneConfig(seeds=2, rlhf=(("steps", 3),)),
    )
    cpu = Config(
        profile="cpu",
        # 05's RLOO runs per reward by power (docs/realignment.md, scripts/experiments/realign_power.py): SmolLM2's
        # runs vary (sd 0.08 of the start's toxicity under the second judge), 4 a replicate give 12 per arm over 3
        # replicates, 80% power at 0.1; Gemma's barely vary, and one a replicate suffices
        sizes=(PolicySpec("smollm2-135m", "asset:smollm2-135m-instruct", 135.0, refinetune_seeds=4),
               PolicySpec("gemma3-270m", "asset:gemma3-270m", 270.0,
                          rlhf=(("learning_rate", 1e-5), ("freeze_embeddings", True)))),
        judge="toxblock",
        second_judge="profanity-check",
        threads=2,
        workers=2,  # two one-thread processes do more RLOO work than one two-thread process (benchmarks/README.md)
        replicates=3,
        # 660 train / 100 val / 240 test prompts: the probes' val AUC still rose with added training
        # pairs (scripts/experiments/probe_learning_curve.py), so the extra prompts go to train.
        # the 784 comments of insults-long no split uses (392 toxic) are its sealed test set (data.sealed)
        data=DataConfig(max_prompts=1000, val_fraction=0.1, test_fraction=0.24, sealed_ids_hash="85fadb0e1281b274"),
        # the learning rates' history: docs/history.md.
        # bf16 where only speed is at stake (AMX: benchmarks/README.md), and where the move is measured: the probe
        # features and 04's log-probabilities (docs/experiments/features_bf16.md), full mode's cached inputs
        # (docs/experiments/full_mode_bf16.md); perplexity stays fp32.
        # the vocabulary head compiled, and Gemma's embeddings (168M of its 268M parameters) frozen: faster RLOO
        # steps (benchmarks/README.md, bench_rloo_step.py). SmolLM2 keeps its embeddings training: frozen, they
        # gained it no speed, and its one RLHF draw so far cut toxicity less (docs/experiments/strength_pilot.md)
        # the RLHF-strength sweep's level 24x4: on val, the weakest level whose recovery the strongest level does not
        # beat (3 replicates a level; scripts/experiments/cpu_recipe_choice.py, docs/strength.md)
        rlhf=RLHFConfig(steps=24, learning_rate=6e-5, beta=0.05, num_generations=4, prompts_per_step=4,
                        precision="bf16", compiled_head=True),
        sampling=SamplingConfig(max_new_tokens=16, batch_size=32, precision="bf16"),
        # full mode: the top 2 blocks on all 660 training pairs; rate and epochs chosen on val
        # (scripts/experiments/full_mode_recipe.py, docs/experiments/full_mode_recipe.md)
        irl=IRLConfig(probe_seeds=20, full_seeds=5, full_blocks=2, full_epochs=2, full_lr=1e-4,
                      full_losses=("max_margin",), max_length=48, feature_precision="bf16", full_input_precision="bf16"),
        # a toxicity–KL path point at steps 0 (the start, measured once a size), 12 and 24 (05's arms compared at
        # equal KL); a point costs about 8 RLOO steps (realign_power_24x4.json, SmolLM2: 80 s, a step 10 s)
        eval=EvalConfig(logprob_precision="bf16", path_every=12),
        # five random heads per replicate (one head is one draw of the control, not its distribution); the
        # transfer arm (two RLOO runs) in replicate 0 only
        refinetune=RefinetuneConfig(random_heads=5, transfer_replicates=1),
        compile_forward=True,
    )
    ladder = Config(
        profile="ladder",
        # one family at two sizes (Qwen2.5-Coder-Instruct 0.5B and 1.5B, the only same-family pair on the
        # package registries), so that a size effect can be read; LoRA for both, so that sizes stay comparable
        # at matched strength: the 0.5B model's KL coefficient chosen on val so that it reaches the KL to its start
        # that the 1.5B model reaches at the profile's (ladder_strength.json, docs/ladder.md)
        sizes=(PolicySpec("qwen2.5-coder-0.5b", "asset:qwen2.5-coder-0.5b-instruct", 630.0, rlhf=(("beta", 0.047),)),
               PolicySpec("qwen2.5-coder-1.5b", "asset:qwen2.5-coder-1.5b-instruct", 1777.0)),
        judge="toxblock",
        second_judge="profanity-check",
        threads=2,
        workers=1,  # the 1.5B model's RLOO takes about half the machine's memory: one job at a time
        replicates=3,
        # 600 prompts (360 train / 90 val / 150 test), not cpu's 1,000: the 1.5B model's texts and features cost
        # far more per unit than SmolLM2's (benchmarks/README.md, ladder_units.py), and a replicate must fit a session
        data=DataConfig(max_prompts=600, val_fraction=0.15, test_fraction=0.25, max_sealed=400,
                        sealed_ids_hash="d7315afa1f4ecaa6"),
        # LoRA rate chosen on val from (1e-4, 3e-4), for each size the same (scripts/experiments/rlhf_recipe.py,
        # rlhf_recipe_ladder.json)
        rlhf=RLHFConfig(steps=24, learning_rate=3e-4, beta=0.05, num_generations=4, prompts_per_step=4,
                        precision="bf16", lora_rank=16),
        sampling=SamplingConfig(max_new_tokens=16, batch_size=32, precision="bf16"),
        irl=IRLConfig(probe_seeds=20, modes=("probe",), max_length=48, feature_precision="bf16"),
        eval=EvalConfig(logprob_precision="bf16"),
        refinetune=RefinetuneConfig(enabled=False, random_heads=1, transfer=False),
        # compiled blocks: nearer fp32 than eager bf16 and 1.14-1.28x faster on both sizes
        # (compile_forward_accuracy_ladder.json, docs/experiments/compile_forward.md)
        compile_forward=True,
    )
    paper = Config(
        profile="paper",
        sizes=(PolicySpec("pythia-70m", "lomahony/eleuther-pythia70m-hh-sft", 70.0, base="EleutherAI/pythia-70m"),
               PolicySpec("pythia-160m", "lomahony/eleuther-pythia160m-hh-sft", 160.0, base="EleutherAI/pythia-160m"),
               PolicySpec("pythia-410m", "lomahony/eleuther-pythia410m-hh-sft", 410.0, base="EleutherAI/pythia-410m")),
        judge="hf:s-nlp/roberta_toxicity_classifier",
        second_judge="hf:facebook/roberta-hate-speech-dynabench-r4-target",
        threads=8,
        device="cuda",
        data=DataConfig(dataset="jigsaw-long-2000", max_prompt_words=48, max_continuation_words=96),
        rlhf=RLHFConfig(steps=600, learning_rate=3e-6, beta=0.035, num_generations=4, prompts_per_step=4),
        sampling=SamplingConfig(max_new_tokens=50, batch_size=64, unaligned="start"),
        irl=IRLConfig(probe_seeds=30, full_seeds=30, probe_epochs=30, full_epochs=30, full_lr=1e-5,
                      batch_size=2, max_length=128),
        eval=EvalConfig(ppl_texts=400),
    )
    return {c.profile: c for c in (smoke, cpu, ladder, paper)}


def _check_type(where: str, value, annotation):
    """Plain values only: int, float (ints accepted), bool, str, tuple."""
    expected = {"int": int, "float": (int, float), "bool": bool, "str": str, "tuple": (tuple, list)}.get(annotation)
    if expected is None:
        raise TypeError(f"{where} cannot be overridden (it is a {annotation})")
    bad = not isinstance(value, expected) or (annotation in ("int", "float") and isinstance(value, bool))
    if bad:
        raise TypeError(f"{where} must be {annotation}, got {type(value).__name__} {value!r}")
    if annotation == "float":
        return float(value)
    if annotation == "tuple":
        return tuple(value)
    return value


def policy_specs(entries) -> tuple:
    """`sizes` as given to `--set sizes=[...]` (a list of dicts of `PolicySpec` fields) as a tuple of `PolicySpec`;
    an error names the entry and the field that is wrong.

        policy_specs([{"name": "mine", "start": "/models/base", "aligned": "/models/aligned", "params_m": 135}])
    """
    if not isinstance(entries, (list, tuple)) or not entries:
        raise TypeError(f"sizes must be a non-empty list of sizes (dicts of PolicySpec fields), got {entries!r}")
    fields_of = {f.name: f for f in fields(PolicySpec)}
    required = [n for n, f in fields_of.items() if f.default is dataclasses.MISSING]
    specs = []
    for i, entry in enumerate(entries):
        if isinstance(entry, PolicySpec):
            specs.append(entry)
            continue
        if not isinstance(entry, dict):
            raise TypeError(f"sizes[{i}] must be a dict of PolicySpec fields ({', '.join(fields_of)}), got {entry!r}")
        unknown = sorted(set(entry) - set(fields_of))
        if unknown:
            raise KeyError(f"sizes[{i}]: unknown field {unknown[0]!r}; PolicySpec has {', '.join(fields_of)}")
        missing = [n for n in required if n not in entry]
        if missing:
            raise ValueError(f"sizes[{i}] needs {', '.join(missing)} (PolicySpec's required fields: {', '.join(required)})")
        where = f"sizes[{entry.get('name', i)}]"
        values = {k: v if k == "rlhf" else _check_type(f"{where}.{k}", v, fields_of[k].type) for k, v in entry.items()}
        if "rlhf" in values:  # a dict, or (field, value) pairs as JSON gives them: lists of two
            pairs = list(entry["rlhf"].items()) if isinstance(entry["rlhf"], dict) else entry["rlhf"]
            if not isinstance(pairs, (list, tuple)) or not all(
                    isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str) for p in pairs):
                raise TypeError(f"{where}.rlhf must be (field, value) pairs or a dict, got {entry['rlhf']!r}")
            values["rlhf"] = tuple((k, v) for k, v in pairs)
        specs.append(PolicySpec(**values))
    return tuple(specs)


def _apply(obj, overrides: dict, where: str):
    names = {f.name: f for f in fields(obj)}
    changes = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if head not in names:
            raise KeyError(f"unknown setting {where}{head!r}; valid: {sorted(names)}")
        current = getattr(obj, head)
        if head == "sizes" and not rest:
            changes[head] = policy_specs(value)
        elif dataclasses.is_dataclass(current) and not isinstance(current, type):
            sub = {rest: value} if rest else value
            if not isinstance(sub, dict):
                raise TypeError(f"{where}{head} is a section: pass a dict or dotted keys like '{head}.steps'")
            changes[head] = _apply(changes.get(head, current), sub, f"{where}{head}.")
        else:
            if rest:
                raise KeyError(f"{where}{head} is a plain value, it has no {rest!r}")
            changes[head] = _check_type(f"{where}{head}", value, names[head].type)
    return replace(obj, **changes)


DATASETS = ("insults-long", "jigsaw-long-2000")
"""Prompt sets `data.dataset` can name (their loaders: `irlkit.data`)."""
JUDGES = ("toxblock", "profanity-check")
"""Judges by name; `hf:<model id or folder>[@revision][#label]` names any Hugging Face classifier."""
JIGSAW = "jaredjoss/jigsaw-long-2000"
"""The Hub data set behind `jigsaw-long-2000` (add `@<commit>` to pin it)."""


def hub_reference(ref: str) -> tuple[str, str | None]:
    """`org/name@revision` as (`org/name`, revision); without `@`, (ref, None): unpinned."""
    repo, sep, revision = ref.partition("@")
    return repo, (revision or None) if sep else None


def unpinned(cfg: "Config") -> list[str]:
    """The Hub models and data sets of a profile that name no revision (`org/name@<commit>`): their files
    can change on the Hub under the same name. The machines this is built on cannot reach the Hub, so the
    paper profile's references could not be pinned here; the runner warns about each."""
    refs = [src for spec in cfg.sizes for src in (spec.start, spec.base)
            if src and not src.startswith(("asset:", "tiny:", "/", "."))]
    refs += [j[3:].partition("#")[0] for j in (cfg.judge, cfg.second_judge) if j.startswith("hf:")]
    refs += [JIGSAW] if cfg.data.dataset == "jigsaw-long-2000" else []
    return [ref for ref in refs if "@" not in ref]

AT_LEAST = {"seed": 0, "threads": 1, "workers": 1, "replicates": 1,
            "data.max_prompts": 0, "data.max_sealed": 0, "data.min_words": 2, "data.max_prompt_words": 1, "data.max_continuation_words": 1,
            "rlhf.steps": 1, "rlhf.num_generations": 2, "rlhf.prompts_per_step": 1,
            "sampling.max_new_tokens": 1, "sampling.batch_size": 1, "sampling.train_samples": 0,
            "irl.probe_seeds": 1, "irl.full_seeds": 1, "irl.probe_epochs": 1, "irl.full_epochs": 1,
            "irl.full_max_pairs": 0, "irl.full_blocks": 0, "irl.batch_size": 1, "irl.max_length": 2, "irl.probe_weight_decay": 0.0,
            "eval.n_bootstrap": 100, "eval.bootstrap_seed": 0, "eval.ppl_texts": 1, "eval.kl_samples": 1, "eval.endpoint_samples": 0, "eval.path_every": 0, "eval.logprob_vocab_block": 0,
            "eval.posterior_samples": 20, "eval.demo_bootstraps": 2, "eval.null_heads": 100,
            "refinetune.random_seed": 0, "refinetune.transfer_replicates": 0, "refinetune.seeds": 1, "refinetune.random_heads": 1,
            "rlhf.lora_rank": 0, "rlhf.lora_alpha": 1}
"""Settings with a lower bound (inclusive), by dotted name."""
AT_MOST = {"seed": 2**20 - 1, "rlhf.steps": 100_000, "rlhf.num_generations": 256, "rlhf.prompts_per_step": 4096,
           "sampling.max_new_tokens": 4096, "sampling.batch_size": 4096, "sampling.train_samples": 64, "irl.probe_seeds": 10_000, "irl.full_seeds": 1000,
           "irl.probe_epochs": 100_000, "irl.full_epochs": 10_000, "irl.max_length": 32_768, "eval.kl_samples": 1000,
           "eval.endpoint_samples": 256,
           "eval.n_bootstrap": 1_000_000, "eval.posterior_samples": 1_000_000, "eval.null_heads": 1_000_000,
           "refinetune.seeds": 1000, "refinetune.random_heads": 1000, "replicates": 1000}
"""Settings with an upper bound (inclusive): the seed within what its derived seeds leave room for
(`replicate_seed`), the rest far above any profile but below what would run out of memory or time unnoticed."""
POSITIVE = ("rlhf.learning_rate", "rlhf.beta", "rlhf.temperature", "sampling.temperature", "irl.probe_lr",
            "irl.full_lr", "irl.full_head_lr", "refinetune.reward_scale")
"""Settings that must be finite and > 0."""
BETWEEN_0_AND_1 = ("eval.ci", "data.val_fraction", "data.test_fraction")
"""Settings strictly between 0 and 1."""
CHOICES = {"rlhf.precision": PRECISIONS, "sampling.precision": PRECISIONS, "irl.feature_precision": PRECISIONS,
           "eval.logprob_precision": PRECISIONS,
           "irl.full_input_precision": PRECISIONS,
           "sampling.unaligned": ("start", "base"),
           "irl.probe_pooling": ("last", "mean"), "refinetune.reward": ("best_val", "ensemble"),
           "data.dataset": DATASETS, "refinetune.mode": MODES}
"""Settings with a fixed set of values."""


def _validate(cfg: Config) -> None:
    """Every setting in its valid range, before any work starts; the message names the range."""
    def need(ok, msg):
        if not ok:
            raise ValueError(msg)

    def value(name: str, rlhf=None):
        section, _, field_name = name.rpartition(".")
        return getattr(rlhf if section == "rlhf" else (getattr(cfg, section) if section else cfg), field_name)

    sections = [(None, "")] + [(cfg.rlhf_for(spec.name), f" (size {spec.name})") for spec in cfg.sizes] + [
        (cfg.rlhf_for(spec.name, realign=True), f" (size {spec.name}, 05's recipe: refinetune.rlhf)")
        for spec in cfg.sizes if cfg.refinetune.rlhf]
    for rc, where in sections:  # the shared section, then each size's (ill-typed overrides fail here)
        names = lambda group: [n for n in group if (n.startswith("rlhf.") if rc else not n.startswith("rlhf."))]  # noqa: E731
        for name in names(AT_LEAST):
            v = value(name, rc)
            need(v >= AT_LEAST[name], f"{name}{where} must be >= {AT_LEAST[name]}, got {v}")
        for name in names(AT_MOST):
            v = value(name, rc)
            need(v <= AT_MOST[name], f"{name}{where} must be <= {AT_MOST[name]:,}, got {v:,}")
        for name in names(POSITIVE):
            v = value(name, rc)
            need(math.isfinite(v) and v > 0, f"{name}{where} must be a finite number > 0, got {v}")
        for name in names(BETWEEN_0_AND_1):
            v = value(name, rc)
            need(0 < v < 1, f"{name}{where} must be strictly between 0 and 1, got {v}")
        for name in names(CHOICES):
            v = value(name, rc)
            need(v in CHOICES[name], f"{name}{where} must be one of {CHOICES[name]}, got {v!r}")
    need(1 - cfg.data.val_fraction - cfg.data.test_fraction >= 0.1,
         f"data.val_fraction + data.test_fraction must leave at least 10% of the prompts for train, got "
         f"{cfg.data.val_fraction} + {cfg.data.test_fraction}")
    need(cfg.device == "cpu" or cfg.device == "cuda" or (cfg.device.startswith("cuda:") and cfg.device[5:].isdigit()),
         f"device must be 'cpu', 'cuda' or 'cuda:N', got {cfg.device!r}")
    for role in ("judge", "second_judge"):
        name = getattr(cfg, role)
        need(name in JUDGES or (name.startswith("hf:") and len(name) > 3),
             f"{role} must be one of {JUDGES} or 'hf:<model id or folder>[@label]', got {name!r}")
    need(cfg.judge != cfg.second_judge, f"second_judge must differ from judge (the independent check), got {cfg.judge!r} twice")
    for loss in cfg.irl.losses:
        need(loss in LOSSES, f"irl.losses: unknown loss {loss!r}; valid: {list(LOSSES)}")
    for mode in cfg.irl.modes:
        need(mode in MODES, f"irl.modes: unknown mode {mode!r}; valid: {list(MODES)}")
    need(len(cfg.irl.losses) > 0 and len(cfg.irl.modes) > 0, "irl.losses and irl.modes need at least one entry each")
    need(len(cfg.eval.prior_scales) > 0 and all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0
                                                for v in cfg.eval.prior_scales),
         f"eval.prior_scales must be finite numbers > 0, got {cfg.eval.prior_scales}")
    need(all(isinstance(v, int) and v >= 2 for v in cfg.eval.contraction_pairs),
         f"eval.contraction_pairs must be whole numbers >= 2, got {cfg.eval.contraction_pairs}")
    for loss in cfg.irl.full_losses:
        need(loss in cfg.irl.losses, f"irl.full_losses: {loss!r} is not in irl.losses {cfg.irl.losses}")
    need(cfg.refinetune.loss in ("auto", *(cfg.irl.losses if cfg.refinetune.mode == "probe" else cfg.irl.full_losses))
         and cfg.refinetune.mode in cfg.irl.modes,
         f"refinetune uses ({cfg.refinetune.loss}, {cfg.refinetune.mode}), which irl does not train: {cfg.irl.losses} × {cfg.irl.modes}")
    need(len({s.name for s in cfg.sizes}) == len(cfg.sizes) > 0, "sizes need distinct names")
    for rc, where in sections[1:]:
        need(all(isinstance(t, str) and t for t in rc.lora_targets),
             f"rlhf.lora_targets{where} must be module names (strings), got {rc.lora_targets!r}")
        need(not (rc.lora_rank and cfg.eval.path_every),
             f"eval.path_every needs full fine-tuning, but rlhf.lora_rank{where} is {rc.lora_rank}: set eval.path_every=0")
    for spec in cfg.sizes:
        need(spec.params_m > 0, f"sizes[{spec.name}].params_m must be > 0, got {spec.params_m}")
        need(0 <= spec.refinetune_seeds <= AT_MOST["refinetune.seeds"],
             f"sizes[{spec.name}].refinetune_seeds must be between 0 (refinetune.seeds) and {AT_MOST['refinetune.seeds']}, "
             f"got {spec.refinetune_seeds}")


def load(profile: str, **overrides) -> Config:
    """The validated config of `profile`, with `overrides` applied (see module docstring). `level=NAME`
    applies that level of the profile's RLHF-strength sweep (`STRENGTH`) first: its settings, and 01–04 only."""
    profiles = _profiles()
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    cfg = profiles[profile]
    level = overrides.pop("level", "")
    if level:
        cfg = _apply(cfg, {**dict(strength_level(profile, level).settings), "refinetune.enabled": False,
                           "level": level}, "")
    cfg = _apply(cfg, overrides, "") if overrides else cfg
    _validate(cfg)
    return cfg


@dataclass(frozen=True)
class Level:
    """One level of a profile's RLHF-strength sweep (`STRENGTH`): how hard RLHF pushes the policy."""
    name: str
    """Its folder name under `levels/` and its label in the dose–response figure."""
    settings: tuple = ()
    """(dotted setting, value) pairs it applies over the profile: () is the profile's own recipe."""


STRENGTH = {
    "smoke": (Level("2x2"), Level("4x2", (("rlhf.steps", 4),))),
    # development pilots (docs/experiments/strength_pilot.md): 4× the samples (48x8) moved the KL reached by 11–26%
    # only, while β = 0.01 at 48x8 reached 2.2–2.7× the KL of 24x4: the levels above the profile's recipe lower the
    # KL coefficient, which sets where KL-regularised RLHF settles
    "cpu": (Level("24x4", (("rlhf.steps", 24), ("rlhf.prompts_per_step", 4), ("rlhf.beta", 0.05))),
            Level("48x8-beta0.01", (("rlhf.steps", 48), ("rlhf.prompts_per_step", 8), ("rlhf.beta", 0.01))),
            Level("48x8-beta0.003", (("rlhf.steps", 48), ("rlhf.prompts_per_step", 8), ("rlhf.beta", 0.003)))),
}
"""Each profile's RLHF-strength sweep, weakest level first; a level is named steps x prompts per step (and the KL
coefficient where it is not the profile's). The sweep's cells are (level, replicate): `python -m irlkit.runner cpu
--cells` lists them, `--cell I` runs one."""


def strength_level(profile: str, name: str) -> Level:
    levels = {lv.name: lv for lv in STRENGTH.get(profile, ())}
    if name not in levels:
        raise ValueError(f"profile {profile!r} has no RLHF-strength level {name!r}; its levels: "
                         f"{', '.join(levels) or 'none'} (config.STRENGTH)")
    return levels[name]


PROFILES = tuple(_profiles())
"""The profiles' names, in the order the README lists them: defined once, by `_profiles`."""

# Annotations are strings under `from __future__ import annotations`; resolve them
# once so `_check_type` sees 'int', 'float', ... for every field.
for _cls in (DataConfig, RLHFConfig, SamplingConfig, IRLConfig, EvalConfig, RefinetuneConfig, Config, PolicySpec):
    for _f in fields(_cls):
        _f.type = getattr(typing.get_type_hints(_cls).get(_f.name), "__name__", str(_f.type))


def parse_setting(text: str) -> tuple[str, object]:
    """`section.field=value` as (key, value): the value read as JSON (numbers, true/false, lists), else as text.
    What `--set` of the runner and of `python -m irlkit.config` reads."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--set takes section.field=value, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def main(argv=None) -> None:
    """`python -m irlkit.config`: the profiles' names on one line (run_all.sh reads it); with a profile, its
    resolved settings as JSON (every size's own RLHF recipe included), after `--level` and `--set`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m irlkit.config", description=main.__doc__.splitlines()[0])
    parser.add_argument("profile", nargs="?", choices=PROFILES)
    parser.add_argument("--level", default="", help="a level of the profile's RLHF-strength sweep (STRENGTH)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="a setting, its value read as JSON (as the runner reads it)")
    args = parser.parse_args(argv)
    if args.profile is None:
        print(" ".join(PROFILES))
        return
    try:
        overrides = dict(parse_setting(item) for item in args.set)
        cfg = load(args.profile, **({"level": args.level} if args.level else {}), **overrides)
    except (ValueError, KeyError, TypeError) as e:
        parser.error(str(e).strip("'\""))
    resolved = cfg.to_dict()
    resolved["rlhf_by_size"] = {spec.name: dataclasses.asdict(cfg.rlhf_for(spec.name)) for spec in cfg.sizes}
    print(json.dumps({"config_hash": cfg.hash(), **resolved}, indent=2, default=str))


if __name__ == "__main__":
    main()
