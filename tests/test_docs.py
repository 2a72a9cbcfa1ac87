"""The README and every page under docs/ and benchmarks/ point only at files that exist."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_of_a_page_resolves(page):
    broken = []
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code is not rendered as links
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address, or a place on the same page
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to files that do not exist: {broken}"


def test_no_page_or_module_cites_a_document_outside_the_repository():
    cited = []
    for path in [*PAGES, *sorted((ROOT / "irlkit").rglob("*.py")), *sorted((ROOT / "notebooks").glob("*.py"))]:
        if re.search(r"DESIGN\.md|\bissue \d+\b", path.read_text()):
            cited.append(str(path.relative_to(ROOT)))
    assert not cited, f"these cite DESIGN.md or a numbered issue, neither of which is in the repository: {cited}"


def test_the_audit_page_runs_as_written(data_home, tmp_path, monkeypatch):
    """docs/audit.md's `python` blocks, in order, in one namespace: the worked example can never rot."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "audit.md").read_text(), flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, "docs/audit.md", "exec"), namespace)
    assert namespace["audit"].diagnostics["pairs"]["validation"] > 0
    assert (namespace["folder"] / "reward_model" / "config.json").exists()
