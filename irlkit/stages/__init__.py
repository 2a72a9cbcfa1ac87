"""The stages of the study, one module per notebook, over one declared graph.

    from irlkit import stages
    ctx = stages.open("smoke", replicate=0)   # config, folders, prompts, judges, threads, seeds
    stages.alignment.run(ctx)        # 01: RLHF of every size against the judge
    stages.demonstrations.run(ctx)   # 02: paired demonstrations
    stages.recovery.run(ctx)         # 03: reward models from the demonstrations (inverse RL)
    stages.evaluation.run(ctx)       # 04: how well and how uniquely they recover the reward
    stages.realignment.run(ctx)      # 05: RLHF again with the recovered, true and random rewards

`graph` declares every stage once (its notebook, upstream stages, the config fields it reads, its folder) and
derives its key; `artifacts` reads finished stages for the notebooks after the one that built them;
`policies` builds the RLOO policies 01 and 05 train; `context` is what every stage shares. No stage
module imports another (a test reads the imports). Results that the README and the figures read go to
`ctx.layout.results`.
"""
from __future__ import annotations

from irlkit.stages import artifacts, graph, policies  # noqa: F401
from irlkit.stages.context import Context, in_parallel, largest_first, open  # noqa: F401
from irlkit.stages import alignment, demonstrations, evaluation, realignment, recovery  # noqa: E402,F401  (by notebook)
