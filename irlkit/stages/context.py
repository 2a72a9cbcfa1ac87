"""What every stage of one replicate shares: its config, its folders, the prompts, the judges, and the
folders every stage starts from (start checkpoints, the prompt set, the judges).

    ctx = open("smoke", replicate=0)           # what a notebook's first cell does
    ctx.start("tiny-a")                         # the start checkpoint's folder (materialised once)
    in_parallel(ctx, [("tiny-a probes", fn, "tiny-a")])
"""
from __future__ import annotations

import functools

from irlkit import assets, data, models, parallel, utils
from irlkit.config import Config, for_replicate, load, stable_hash
from irlkit.judges import make_judge
from irlkit.layout import Layout


class Context:
    """What every stage of one replicate needs: its config, where things go, the prompts, the judges
    (loaded once). `base_cfg` is the profile's config as loaded; `cfg` is replicate `replicate`'s
    (its own seeds, `config.for_replicate`). Shared stages (the start policy's) run with `base_cfg`."""

    def __init__(self, cfg: Config, replicate: int = 0):
        utils.setup_logging()
        self.base_cfg, self.replicate = cfg, replicate
        self.cfg = for_replicate(cfg, replicate)
        self.layout = Layout(cfg.profile, replicate, cfg.level)
        self.prompts = data.load_prompts(cfg)  # the splits never depend on the seed: the same in every replicate
        self._judges = {}

    def __repr__(self) -> str:
        return f"Context({self.cfg.profile!r}, replicate {self.replicate}, config {self.base_cfg.hash()})"

    def judge(self, which: str = "judge"):
        """`judge` (ground truth) or `second` (the independent check)."""
        name = self.cfg.judge if which == "judge" else self.cfg.second_judge
        if name not in self._judges:
            self._judges[name] = make_judge(name, self.cfg.device)
        return self._judges[name]

    def log(self, msg: str) -> None:
        print(msg, flush=True)

    @property
    def prompts_key(self) -> str:
        return stable_hash(list(self.prompts.prompt_id))

    def start(self, size: str) -> str:
        """The start checkpoint of `size` (a converted asset or a tiny model, materialised once)."""
        return models.materialise(self.cfg.size(size).start)

    def unaligned(self, size: str) -> str:
        """Who writes the unaligned side of the demonstrations (`sampling.unaligned`): the start, or the base model."""
        spec = self.cfg.size(size)
        return self.start(size) if self.cfg.sampling.unaligned == "start" else models.materialise(spec.base or spec.start)

    def prompt_source(self) -> str:
        """The folder of the prompt set (an asset), or its Hub name: every stage that reads prompts reads it."""
        name = assets.DATASET_ASSETS.get(self.cfg.data.dataset)
        return str(assets.require(name)) if name else self.cfg.data.dataset

    def judge_sources(self, which: tuple = ("judge", "second")) -> list[str]:
        """The judges' folders (assets) or names: what a stage that scores texts reads."""
        names = [self.cfg.judge if w == "judge" else self.cfg.second_judge for w in which]
        return [str(assets.require(assets.JUDGE_ASSETS[n])) if n in assets.JUDGE_ASSETS else n for n in names]


def open(profile: str, replicate: int = 0, seed: int = 0, overrides: dict | None = None) -> Context:
    """A notebook's setup in one call: the validated config of `profile` with `overrides`, replicate
    `replicate`'s context; torch threads and the replicate's seed set, libraries quiet, and an exit when the
    runner that started this kernel dies."""
    import torch

    ctx = Context(load(profile, seed=seed, **(overrides or {})), replicate)
    torch.set_num_threads(ctx.cfg.threads)
    utils.seed_everything(ctx.cfg.seed)
    utils.quiet_libraries()
    parallel.exit_with_parent()
    return ctx


def in_parallel(ctx: Context, jobs: list[tuple], after: dict[str, str] | None = None) -> dict[str, float]:
    """Run `(name, stage_function, *args)` jobs side by side (`Config.workers`); each calls
    `stage_function(Context, *args)` in its own process, leaves finished stages on disk and writes its
    output to `layout.log(name)`. Jobs must not share a stage: two processes would build the same folder;
    a job that reads another's stage names it in `after` ({job: the job it waits for}, `parallel.run`).
    With one worker they run here, in order, on this Context (its judges stay loaded)."""
    for spec in ctx.cfg.sizes:
        ctx.start(spec.name)  # built here once (the tiny models), never by two jobs at a time
    here = ctx.cfg.workers <= 1
    calls = [(name, functools.partial(fn, ctx, *args) if here else
              functools.partial(_job, ctx.base_cfg, ctx.replicate, fn, *args)) for name, fn, *args in jobs]
    return parallel.run(calls, workers=ctx.cfg.workers, threads=ctx.cfg.threads,
                        log_file=ctx.layout.log, after=after)


def _job(cfg: Config, replicate: int, fn, *args) -> None:
    fn(Context(cfg, replicate), *args)


def largest_first(cfg: Config) -> list[str]:
    """Size names, largest first: the order that balances parallel jobs best."""
    return [s.name for s in sorted(cfg.sizes, key=lambda s: -s.params_m)]
