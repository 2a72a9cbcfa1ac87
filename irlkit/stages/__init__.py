"""The stages of the study, one module per notebook, and what every stage shares.

    from irlkit import config, stages
    ctx = stages.Context(config.load("smoke"), replicate=0)
    stages.rlhf.run(ctx)          # 01: RLHF of every size against the judge
    stages.demos.run(ctx)         # 02: paired demonstrations
    stages.irl.run(ctx)           # 03: reward models from the demonstrations
    stages.eval.run(ctx)          # 04: how well and how uniquely they recover the reward
    stages.refinetune.run(ctx)    # 05: RLHF again with the recovered, true and random rewards

Each stage builds its artifacts through `irlkit.store.stage`, keyed by the config sections and the
upstream artifacts it depends on, so re-running a notebook skips finished work and a killed run
resumes. Results that the README and the figures read go to `ctx.layout.results`.
"""
from __future__ import annotations

import functools

from irlkit import data, parallel
from irlkit.config import Config, for_replicate, stable_hash
from irlkit.judges import make_judge
from irlkit.layout import Layout


class Context:
    """What every stage of one replicate needs: its config, where things go, the prompts, the judges
    (loaded once). `base_cfg` is the profile's config as loaded; `cfg` is replicate `replicate`'s
    (its own seeds, `config.for_replicate`). Shared stages (the start policy's) run with `base_cfg`."""

    def __init__(self, cfg: Config, replicate: int = 0):
        self.base_cfg, self.replicate = cfg, replicate
        self.cfg = for_replicate(cfg, replicate)
        self.layout = Layout(cfg.profile, replicate)
        self.prompts = data.load_prompts(cfg)  # the splits never depend on the seed: the same in every replicate
        self._judges = {}

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


def in_parallel(ctx: Context, jobs: list[tuple], after: dict[str, str] | None = None) -> dict[str, float]:
    """Run `(name, stage_function, *args)` jobs side by side (`Config.workers`); each calls
    `stage_function(Context, *args)` in its own process, leaves finished stages on disk and writes its
    output to `layout.log(name)`. Jobs must not share a stage: two processes would build the same folder;
    a job that reads another's stage names it in `after` ({job: the job it waits for}, `parallel.run`).
    With one worker they run here, in order, on this Context (its judges stay loaded)."""
    from irlkit.stages.policies import start_folder

    for spec in ctx.cfg.sizes:
        start_folder(ctx, spec.name)  # built here once (the tiny models), never by two jobs at a time
    here = ctx.cfg.workers <= 1
    calls = [(name, functools.partial(fn, ctx, *args) if here else
              functools.partial(_job, ctx.base_cfg, ctx.replicate, fn, *args)) for name, fn, *args in jobs]
    return parallel.run(calls, workers=ctx.cfg.workers, threads=ctx.cfg.threads, log=ctx.log,
                        log_file=ctx.layout.log, after=after)


def _job(cfg: Config, replicate: int, fn, *args) -> None:
    fn(Context(cfg, replicate), *args)


def largest_first(cfg: Config) -> list[str]:
    """Size names, largest first: the order that balances parallel jobs best."""
    return [s.name for s in sorted(cfg.sizes, key=lambda s: -s.params_m)]


from irlkit.stages import demos, eval, irl, refinetune, rlhf  # noqa: E402,F401  (the stages, by notebook)
