"""A run's executed notebooks as pages under docs/: what a reader needs, nothing half-written, within a size bound."""
import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402

from irlkit import layout, pages  # noqa: E402


def _png() -> str:
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _executed(path, title: str) -> None:
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell(f"# {title}"),
        v4.new_code_cell('PROFILE = "smoke"', metadata={"tags": ["parameters"]}),
        v4.new_code_cell('PROFILE = "cpu"\nREPLICATE = 0', metadata={"tags": ["injected-parameters"]}),
        v4.new_code_cell("show()", outputs=[
            v4.new_output("stream", name="stderr", text="FutureWarning: nobody can act on this\n"),
            v4.new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"}),
            v4.new_output("execute_result", execution_count=3, data={
                "text/html": '<div><style scoped>.dataframe { color: red }</style><table><tr><td>0.71</td></tr></table></div>',
                "text/plain": "0.71"})])])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def test_pages_keep_what_ran_and_its_figures_and_drop_the_noise(data_home):
    where = layout.Layout("cpu")
    for name in ("01_rlhf", "04_eval"):
        _executed(where.of_replicate(0).notebooks / f"{name}.ipynb", name)
    _executed(where.notebooks / "06_analysis.ipynb", "06_analysis")
    out = pages.export(where, final=True)
    assert out == layout.notebook_pages("cpu")
    text = (out / "04_eval.md").read_text()
    assert 'PROFILE = "cpu"' in text and 'PROFILE = "smoke"' not in text  # what ran, not the defaults
    assert "nobody can act on this" not in text and "<style" not in text and "0.71" in text
    images = sorted((out / "04_eval_files").glob("*.png"))
    assert len(images) == 1 and f"04_eval_files/{images[0].name}" in text
    index = (out / "README.md").read_text()
    assert "final replicate" in index and all(f"({n}.md)" in index for n in ("01_rlhf", "04_eval", "06_analysis"))


def test_pages_over_the_bound_leave_the_last_ones_as_they_were(data_home, monkeypatch, capsys):
    where = layout.Layout("cpu")
    _executed(where.of_replicate(0).notebooks / "01_rlhf.ipynb", "01_rlhf")
    first = pages.export(where, final=False)
    before = sorted(p.name for p in first.rglob("*"))
    monkeypatch.setattr(pages, "MAX_BYTES", 100)
    _executed(where.of_replicate(0).notebooks / "02_sampling.ipynb", "02_sampling")
    assert pages.export(where, final=False) is None
    assert "over the" in capsys.readouterr().out
    assert sorted(p.name for p in first.rglob("*")) == before


def test_a_run_without_notebooks_writes_no_pages(data_home):
    assert pages.export(layout.Layout("cpu"), final=False) is None
    assert not layout.notebook_pages("cpu").exists()
    _executed(layout.Layout("cpu").notebooks / "06_analysis.ipynb", "06_analysis")  # 06 alone: no replicate to read
    assert pages.export(layout.Layout("cpu"), final=False) is None


@pytest.fixture(autouse=True)
def _quiet_matplotlib():
    yield
    plt.close("all")
