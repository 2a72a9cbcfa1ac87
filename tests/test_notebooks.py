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


def test_in_a_shared_kernel_each_notebook_starts_with_an_empty_namespace_and_its_own_progress_log(tmp_path):
    """What the runner does between a replicate's notebooks: none sees what the one before defined, each
    reports progress to its own file, and worker processes still spawn (they read `__main__.__spec__`)."""
    import types

    import nbformat
    import papermill as pm

    from irlkit import runner

    cell = ("import multiprocessing, os\nleft_over = 'x' in globals()\nx = 1\n"
            "with multiprocessing.get_context('spawn').Pool(1) as pool:\n    pool.map(abs, [-1])\n"
            "print(left_over, os.environ['IRLKIT_PROGRESS_LOG'])")
    source = tmp_path / "in.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), source)
    with runner._kernel(types.SimpleNamespace(logs=tmp_path)) as kernel:
        for i in range(2):
            runner.fresh_namespace(kernel, tmp_path / f"{i}.progress")
            out = pm.execute_notebook(str(source), str(tmp_path / f"out{i}.ipynb"), kernel_name="python3", km=kernel,
                                      language="python", progress_bar=False)
            assert out.cells[0].outputs[0]["text"].strip() == f"False {tmp_path / f'{i}.progress'}"
