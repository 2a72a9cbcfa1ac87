"""benchmarks/compare_results.py, the check behind every "bit-identical" claim: it must see a changed number
and must not see a changed wall time."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _results(folder: Path, auc: float, wall: float) -> Path:
    (folder / "r0").mkdir(parents=True)
    (folder / "r0" / "irl.json").write_text(json.dumps(
        {"auc": auc, "curve": [0.1, float("nan")], "wall_seconds": wall, "_manifest": {"created": str(wall)}}))
    (folder / "r0" / "manifest.json").write_text(json.dumps({"total_seconds": wall}))
    (folder / "report.md").write_text(f"AUC {auc}\nWall time {wall} s\n")
    return folder


def _compare(before: Path, after: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compare_results.py"), str(before), str(after)],
                          capture_output=True, text=True, cwd=ROOT)


def test_wall_times_and_provenance_are_left_out(tmp_path):
    run = _compare(_results(tmp_path / "a", 0.75, 10.0), _results(tmp_path / "b", 0.75, 99.0))
    assert run.returncode == 0 and "every number identical" in run.stdout, run.stdout + run.stderr


def test_a_changed_number_and_a_missing_file_are_reported(tmp_path):
    before, after = _results(tmp_path / "a", 0.75, 10.0), _results(tmp_path / "b", 0.76, 10.0)
    (before / "extra.json").write_text("{}")
    run = _compare(before, after)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "r0/irl.json: /auc: 0.75 vs 0.76" in run.stdout
    assert "report.md: content differs" in run.stdout
    assert "extra.json: only in before" in run.stdout
