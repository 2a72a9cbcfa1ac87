import json
from pathlib import Path

import jupytext
import pytest

from irlkit.runner import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_clean_parametrised_and_in_sync_with_its_twin(name):
    nb_path, py_path = ROOT / "notebooks" / f"{name}.ipynb", ROOT / "notebooks" / f"{name}.py"
    nb = json.loads(nb_path.read_text())
    assert nb["cells"][0]["cell_type"] == "markdown", "a notebook opens with its narrative"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "commit notebooks without outputs"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and 'PROFILE = "cpu"' in "".join(params[0]["source"])
    a, b = jupytext.read(nb_path), jupytext.read(py_path)
    sources = lambda n: [(c.cell_type, c.source.strip()) for c in n.cells]  # noqa: E731
    assert sources(a) == sources(b), f"{name}.ipynb and {name}.py drifted: run `jupytext --sync notebooks/{name}.py`"
