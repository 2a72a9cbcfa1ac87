"""One owner for every path: no notebook, script, benchmark or stage spells a run folder's name."""
import ast
import re
from pathlib import Path

import pytest

from irlkit import layout

ROOT = Path(__file__).resolve().parents[1]
FOLDER_NAMES = ("runs", "results", "policies", "texts", "perplexity", "demos", "features", "logprobs", "logs",
                "notebooks", "experiments", "irl")
SPELLED = re.compile(r"/\s*f?[\"'](" + "|".join(FOLDER_NAMES) + r")[\"'/]")


def _sources():
    for pattern in ("notebooks/*.py", "scripts/**/*.py", "benchmarks/*.py", "irlkit/**/*.py"):
        for path in ROOT.glob(pattern):
            if path.name != "layout.py":
                yield path


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_folder_name_is_spelled_outside_layout(path):
    hits = [line.strip() for line in path.read_text().splitlines() if SPELLED.search(line)]
    assert not hits, f"{path.name} builds a path by hand (use irlkit.layout): {hits}"


def test_every_path_of_a_profile_lives_under_its_three_roots(tmp_path, monkeypatch):
    monkeypatch.setenv("IRLKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("IRLKIT_FIGURES", str(tmp_path / "figures"))
    where = layout.Layout("smoke")
    run_paths = [where.policy("a"), where.texts("a"), where.perplexity("a"), where.demos("s"), where.features("s"),
                 where.irl_model("s", "probe", "logistic"), where.logprobs("s", "rlhf"), where.notebooks, where.log("x y/z")]
    assert all(p.is_relative_to(tmp_path / "data" / "runs" / "smoke") for p in run_paths)
    assert where.log("x y/z").name == "x_y_z.log"
    assert where.result("irl").parent == where.table("irl_history").parent == tmp_path / "data" / "results" / "smoke"
    assert where.figures == tmp_path / "figures" / "smoke"
    assert where.of_replicate(2).figures == tmp_path / "figures" / "smoke" / "r2"
    assert where.labels(where.policy) == []
    where.policy("b").mkdir(parents=True)
    where.policy("a").mkdir()
    assert where.labels(where.policy) == ["a", "b"]


def test_config_imports_nothing_from_irlkit():
    tree = ast.parse((ROOT / "irlkit" / "config.py").read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith("irlkit")], imported


def test_run_all_reads_the_profiles_from_config():
    from irlkit import config

    script = (ROOT / "run_all.sh").read_text()
    assert "python3 -m irlkit.config" in script
    assert not any(f'"{p}"' in script or f" {p} " in script.split("set -euo")[1] for p in config.PROFILES)
