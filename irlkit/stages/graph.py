"""The stage graph, declared once: every artifact the study builds, the notebook that builds it, the stages
it reads, the config fields it reads and its folder.

    path = graph.build(ctx, "features", build, upstream=[demos, start], size="tiny-a")   # key derived here
    demos = graph.require(ctx, "demos", size="tiny-a")    # a finished stage, checked against this config

A stage's key is derived here, never written by hand:

    {"stage": name, "params": {...}, "reads": {field: value}, "upstream": {folder: its manifest's hash}}

`reads` holds the values of the fields `STAGES` declares, taken from the config the stage runs with (the
profile's for `shared` stages, the replicate's otherwise); `upstream` the key hashes of the folders it reads:
finished stages, and the assets and start checkpoints it starts from, each verified against the content hashes
of its manifest when it is used. `require` checks a finished stage by reading manifests only: its reads
against the current config, each upstream manifest in turn, down to the assets. So no stage module imports
another to recompute its key, and a stage rebuilds exactly when a field it reads, or a folder it reads, changed.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from irlkit import layout, store
from irlkit.config import Config


@dataclass(frozen=True)
class Stage:
    name: str
    notebook: str
    """The notebook that builds it (named in every error that asks for it to be rebuilt)."""
    folder: Callable[..., Path]
    """`folder(layout, **params)`: where one instance of the stage lives."""
    reads: tuple
    """Config fields its build reads: `section.field`, a whole section (`sampling`), `rlhf` (the size's
    resolved section, `Config.rlhf_for`) or a top-level field (`seed`)."""
    upstream: tuple = ()
    """Stages whose folders it reads (besides assets and start checkpoints, `SOURCES`)."""


SOURCES = ("asset", "tiny model", "Hub snapshot or local folder")
"""What a stage may read that no stage builds: converted assets (prompt sets, judges, start checkpoints,
`irlkit.assets`), the smoke profile's tiny models (`models.materialise`), and, in the paper profile, Hub
references and local folders (identified by their name)."""

POLICY_READS = ("rlhf", "sampling.max_new_tokens", "seed", "data", "eval.path_every", "eval.kl_samples",
                "sampling.precision", "sampling.batch_size", "judge", "second_judge")
"""What every RLOO policy reads: the size's recipe, the horizon, the seed, the training prompts, and how its
toxicity–KL path is measured on the val prompts (`stages.policies.ValPath`, both judges)."""
LEARNED_REWARD_READS = ("refinetune.reward_scale", "irl.max_length", "irl.probe_pooling", "irl.feature_precision",
                        "irl.with_prompt")
"""What a policy trained on a learned or random reward reads of it: its scale and how it reads text."""


def policy_label(size: str, arm: str, run: int = 0) -> str:
    """Folder label of a policy: `<size>-rlhf` (01's, and 05's true arm where 05 trains as 01), `<size>-<arm>`
    (05's `true_policy` is arm `true-realigned`), and `-seed<run>` for run > 0."""
    label = f"{size}-{'rlhf' if arm == 'true' else arm}"
    return label if run == 0 else f"{label}-seed{run}"


REALIGNED = ("irl_policy", "random_policy", "true_policy")
"""05's policy stages: their `rlhf` reads resolve to 05's recipe (`Config.rlhf_for(size, realign=True)`)."""


STAGES = {s.name: s for s in (
    Stage("path_start", "01_rlhf (05_refinetune reads it too)", lambda L, size: L.path_start(size),
          reads=("sampling.max_new_tokens", "seed", "data", "eval.kl_samples", "sampling.precision",
                 "sampling.batch_size", "judge", "second_judge")),
    Stage("rlhf_policy", "01_rlhf", lambda L, size, run=0: L.policy(policy_label(size, "true", run)),
          reads=POLICY_READS, upstream=("path_start",)),
    Stage("irl_policy", "05_refinetune", lambda L, size, arm, run=0, reward=None: L.policy(policy_label(size, arm, run)),
          reads=(*POLICY_READS, *LEARNED_REWARD_READS, "refinetune.reward"),
          upstream=("probe_model", "full_model", "demos", "features", "path_start")),
    Stage("random_policy", "05_refinetune", lambda L, size, run=0: L.policy(policy_label(size, "random", run)),
          reads=(*POLICY_READS, *LEARNED_REWARD_READS, "refinetune.random_seed"),
          upstream=("probe_model", "demos", "path_start")),
    Stage("true_policy", "05_refinetune", lambda L, size, run=0: L.policy(policy_label(size, "true-realigned", run)),
          reads=POLICY_READS, upstream=("path_start",)),
    Stage("texts", "01_rlhf (05_refinetune for its policies)",
          lambda L, label, prompts="all", shared=False, samples=0: L.texts(f"{label}-{prompts}-x{samples}" if samples else label, shared),
          reads=("sampling.max_new_tokens", "sampling.batch_size", "sampling.do_sample", "sampling.temperature",
                 "sampling.precision", "seed", "data", "judge", "second_judge"),
          upstream=("rlhf_policy", "irl_policy", "random_policy", "true_policy")),
    Stage("perplexity", "01_rlhf (05_refinetune for its policies)",
          lambda L, label, split="test", shared=False: L.perplexity(label if split == "test" else f"{label}-{split}", shared),
          reads=("data", "eval.ppl_texts", "eval.logprob_vocab_block"), upstream=("rlhf_policy", "irl_policy", "random_policy", "true_policy")),
    Stage("policy_kl", "01_rlhf (05_refinetune for its policies)", lambda L, label: L.kl(label),
          reads=("sampling.max_new_tokens", "sampling.precision", "sampling.batch_size", "seed", "data",
                 "eval.kl_samples", "eval.logprob_precision", "eval.logprob_vocab_block", "compile_forward"),
          upstream=("rlhf_policy", "irl_policy", "random_policy", "true_policy")),
    Stage("demos", "02_sampling", lambda L, size: L.demos(size),
          reads=("sampling", "data", "judge", "second_judge"), upstream=("texts", "rlhf_policy")),
    Stage("features", "03_irl", lambda L, size: L.features(size),
          reads=("irl.max_length", "irl.with_prompt", "irl.probe_pooling", "irl.feature_precision", "compile_forward"),
          upstream=("demos",)),
    Stage("probe_model", "03_irl", lambda L, size, loss: L.irl_model(size, "probe", loss),
          reads=("seed", "irl.with_prompt", "irl.probe_seeds", "irl.probe_epochs", "irl.probe_lr",
                 "irl.probe_weight_decay", "irl.batch_size"), upstream=("demos", "features")),
    Stage("full_model", "03_irl", lambda L, size, loss: L.irl_model(size, "full", loss),
          reads=("seed", "irl.with_prompt", "irl.max_length", "irl.batch_size", "irl.full_seeds", "irl.full_epochs",
                 "irl.full_max_pairs", "irl.full_lr", "irl.full_head_lr", "irl.full_blocks", "irl.full_input_precision"),
          upstream=("demos",)),
    Stage("logprobs", "04_eval", lambda L, size, policy: L.logprobs(size, policy),
          reads=("eval.logprob_precision", "eval.logprob_vocab_block", "compile_forward"),
          upstream=("demos", "rlhf_policy")),
)}
"""Every stage of the study. Adding one: a row here, a `Layout` folder, and its build in a stage module."""

READ_BY_NO_STAGE = {
    "profile": "names the profile; its settings are read field by field",
    "level": "names a level of the RLHF-strength sweep (its folders); its settings are read field by field",
    "sizes": "which policies exist; each stage reads its own size's start checkpoint (an upstream folder) and recipe",
    "replicates": "how many replicates run; each has its own seed (`seed`)",
    "threads": "speed only", "workers": "speed only", "progress": "display only",
    "device": "where it runs; a profile sets it once",
    "irl.losses": "which probe models exist (each loss its own folder); the random control's standardisation "
                  "reads the first loss's model folder",
    "irl.modes": "which models exist", "irl.full_losses": "which models exist",
    "eval.n_bootstrap": "04's and 05's intervals (results, recomputed every run)",
    "eval.ci": "intervals (results)", "eval.bootstrap_seed": "intervals (results)",
    "eval.prior_scales": "04's posterior (results)", "eval.posterior_samples": "04's posterior (results)",
    "eval.contraction_pairs": "04's posterior (results)", "eval.demo_bootstraps": "04's bootstrap (results)",
    "eval.null_heads": "04's null band (results)",
    "eval.endpoint_samples": "05's endpoint: the `samples` of the texts stages it reads (in their keys)",
    "refinetune.enabled": "whether 05 runs", "refinetune.mode": "which reward 05 selects: the policy's params",
    "refinetune.loss": "which reward 05 selects: the policy's params", "refinetune.transfer": "which arms exist",
    "refinetune.flipped": "which arms exist",
    "refinetune.transfer_replicates": "which arms exist", "refinetune.seeds": "how many runs exist",
    "refinetune.random_heads": "how many runs exist",
    "refinetune.rlhf": "05's recipe: read through `rlhf`, which resolves to it in 05's policy stages (`REALIGNED`)",
}
"""Config fields that no stage's key holds, and why: changing one rebuilds no stage (a test flips every
field of a profile and checks this and `STAGES` together)."""


def models_of(cfg: Config) -> list[tuple[str, str]]:
    """Every (mode, loss) of 03's reward models (`probe_model`, `full_model`): probe with every loss, full with
    `irl.full_losses`."""
    return [(mode, loss) for mode in cfg.irl.modes
            for loss in (cfg.irl.losses if mode == "probe" else cfg.irl.full_losses)]


def read(cfg: Config, field: str, size: str | None = None, stage: str = ""):
    """The value of a declared field (`Stage.reads`) in `cfg`; `rlhf` fields resolved for `size` (and, for 05's
    stages, `REALIGNED`, to 05's recipe)."""
    if field == "rlhf" or field.startswith("rlhf."):
        section = cfg.rlhf_for(size, realign=stage in REALIGNED) if size is not None else cfg.rlhf
        value = section if field == "rlhf" else getattr(section, field[5:])
    else:
        value = cfg
        for part in field.split("."):
            value = getattr(value, part)
    value = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    return json.loads(json.dumps(value, default=str))  # as a manifest stores it: tuples become lists


def _difference(field: str, built, now) -> str:
    """`field = built` against `now`, narrowed to the fields of a section that differ."""
    if isinstance(built, dict) and isinstance(now, dict):
        keys = [k for k in sorted(set(built) | set(now)) if built.get(k) != now.get(k)]
        return "; ".join(f"{field}.{k} = {built.get(k)!r}, this config has {now.get(k)!r}" for k in keys)
    return f"{field} = {built!r}, this config has {now!r}"


def _config(ctx, params: dict) -> Config:
    return ctx.base_cfg if params.get("shared") else ctx.cfg


def _where(path) -> str:
    """An upstream's name in a key: its folder relative to the data folder (or a Hub reference as given)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(layout.data_dir().resolve()))
    except (ValueError, OSError):
        return str(path)


def identity(upstream) -> str:
    """The key hash of a finished folder (a stage, an asset, a tiny model), after checking its files against its
    manifest. A model folder of the user's without a manifest is named by its path; a Hub reference (paper
    profile), which is no folder here, by itself."""
    path = Path(upstream)
    if not path.exists():
        return str(upstream)
    m = store.manifest_of(path)
    if m is None:
        if (path / "config.json").exists():
            return str(path.resolve())
        raise StageError(f"{path} is not a finished stage or asset (no {store.MANIFEST})")
    problem = store.damaged(path, m)
    if problem:
        stage = m.get("key", {}).get("stage")
        how = (f"run {STAGES[stage].notebook} again" if stage in STAGES
               else "run `python -m irlkit.assets fetch --profile <profile>` to restore it")
        raise StageError(f"{path}: {problem}: {how}")
    return m["key_hash"]


class StageError(RuntimeError):
    """A stage's input is missing, damaged, or made with other settings than the config's."""


def key(ctx, name: str, upstream: list, params: dict) -> dict:
    """The derived key of one instance of stage `name`."""
    stage = STAGES[name]
    cfg = _config(ctx, params)
    return {"stage": name, "params": params,
            "reads": {f: read(cfg, f, params.get("size"), name) for f in stage.reads},
            "upstream": {_where(u): identity(u) for u in upstream}}


def folder(ctx, name: str, **params) -> Path:
    return STAGES[name].folder(ctx.layout, **params)


def build(ctx, name: str, build_into: Callable[[Path], None], *, upstream: list, **params) -> Path:
    """Build stage `name` (its instance `params`) with `build_into(folder)` unless it is finished with the same
    derived key; every folder in `upstream` must be finished and undamaged. Returns its folder."""
    for u in upstream:
        kind = (store.manifest_of(Path(u)) or {}).get("key", {}).get("stage")
        if kind is not None and kind not in STAGES[name].upstream:
            raise TypeError(f"stage {name} reads {u}, a {kind} stage, which STAGES does not declare as its upstream")
    cfg = _config(ctx, params)
    return store.stage(folder(ctx, name, **params), key(ctx, name, upstream, params), build_into, seed=cfg.seed,
                       log=ctx.log)


def require(ctx, name: str, **params) -> Path:
    """The folder of a finished instance of stage `name`, checked against this config by its manifests: an
    error names what differs and the notebook to run."""
    path = folder(ctx, name, **params)
    check(ctx, path, STAGES[name].notebook)
    return path


def check(ctx, path: Path, notebook: str = "the notebook that builds it", _seen: set | None = None) -> None:
    """Raise `StageError` unless the stage at `path` is finished, undamaged, built from the values this config
    gives the fields it reads, and every folder it read is still the one it read (recursively)."""
    seen = _seen if _seen is not None else ctx.__dict__.setdefault("_checked", set())
    if str(path) in seen:
        return
    m = store.manifest_of(path)
    if m is None and (path / "config.json").exists() and not str(path.resolve()).startswith(str(layout.data_dir().resolve())):
        seen.add(str(path))  # a model folder of the user's (a start or an already-aligned policy): named by its path
        return
    if m is None:
        raise StageError(f"{path} is not a finished stage (no {store.MANIFEST}): run {notebook} first")
    k = m.get("key", {})
    if "stage" not in k:  # an asset or a tiny model: its files are its identity
        identity(path)
        seen.add(str(path))
        return
    stage = STAGES[k["stage"]]
    cfg = _config(ctx, k.get("params", {}))
    for field, value in k.get("reads", {}).items():
        now = read(cfg, field, k["params"].get("size"), k["stage"])
        if now != value:
            raise StageError(f"{path} was built with {_difference(field, value, now)}: "
                             f"run {stage.notebook} again with this config")
    problem = store.damaged(path, m)
    if problem:
        raise StageError(f"{path}: {problem}: run {stage.notebook} again to rebuild it")
    for where, expected in k.get("upstream", {}).items():
        upstream = layout.data_dir() / where
        if not upstream.exists():
            if expected != where:  # a folder that is gone (a Hub reference is its own identity)
                raise StageError(f"{path} read {upstream}, which is gone: run {stage.notebook} again")
            continue
        got = identity(upstream)
        if got != expected:
            raise StageError(f"{path} read {upstream} as it was before it was rebuilt: run {stage.notebook} again")
        check(ctx, upstream, stage.notebook, seen)
    seen.add(str(path))


def table() -> list[dict]:
    """`STAGES` as rows (stage, notebook, upstream, reads), for docs and notebooks to show."""
    return [{"stage": s.name, "notebook": s.notebook, "upstream": ", ".join(s.upstream), "reads": ", ".join(s.reads)}
            for s in STAGES.values()]
