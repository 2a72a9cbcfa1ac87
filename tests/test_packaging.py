import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_lists_exactly_the_pyproject_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = re.findall(r"^\s+- ([A-Za-z0-9_.\-]+==[^\s]+)\s*$", (ROOT / "environment.yml").read_text(), re.M)
    assert sorted(env) == sorted(deps)
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_every_dependency_is_pinned_and_torch_is_the_cpu_wheel():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all("==" in d for d in deps), [d for d in deps if "==" not in d]
    assert "torch==2.13.0" in deps


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./run_tests.sh" in readme and "./run_tests.sh" in ci and "./run_all.sh" in readme


def test_run_all_rejects_an_unknown_profile():
    import subprocess

    from irlkit.config import PROFILES

    run = subprocess.run([str(ROOT / "run_all.sh"), "gpu"], capture_output=True, text=True)
    assert run.returncode == 2 and "usage" in run.stderr and " ".join(PROFILES) in run.stderr
