import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))


def _declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]


def test_every_range_of_pyproject_holds_its_locked_version_and_torch_is_the_cpu_wheel():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lock = {canonicalize_name(name): version for name, version in _lock().items()}
    for line in _declared():
        req = Requirement(line)
        assert "==" not in line, f"{line}: pyproject declares ranges; the exact version lives in requirements.lock"
        assert canonicalize_name(req.name) in lock, f"{req.name} is not in requirements.lock"
        assert req.specifier.contains(lock[canonicalize_name(req.name)], prereleases=True), (line, lock[req.name])
    assert lock["torch"] == "2.13.0+cpu"
    assert not any(name.startswith("nvidia-") or name == "triton" for name in lock), "a CUDA package is locked"


def test_the_virtualenv_and_conda_install_from_the_lock():
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    env = (ROOT / "environment.yml").read_text()
    assert "-r \"$ROOT/requirements.lock\"" in bootstrap and "--no-deps -e" in bootstrap
    assert re.search(r"^\s+- -r requirements\.lock", env, re.M) and "python=3.11" in env
    exported = {word.split("=")[0] for line in bootstrap.splitlines() if line.startswith("export ")
                for word in line.split()[1:] if "=" in word}
    for name in exported - {"PATH"}:
        assert f"{name}:" in env, f"environment.yml lacks the variable {name} that bootstrap.sh exports"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./run_tests.sh" in readme and "./run_tests.sh" in ci and "./run_all.sh" in readme


def test_run_all_rejects_an_unknown_profile():
    import subprocess

    from irlkit.config import PROFILES

    run = subprocess.run([str(ROOT / "run_all.sh"), "gpu"], capture_output=True, text=True)
    assert run.returncode == 2 and "usage" in run.stderr and " ".join(PROFILES) in run.stderr
