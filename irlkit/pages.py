"""A run's executed notebooks as pages that read without running anything: markdown with each figure as a PNG beside
it (GitHub and any markdown viewer render them), under `docs/notebooks/<profile>/` (`layout.notebook_pages`).

    pages.export(Layout("cpu"), final=True)   # replicate 0's 01–05 and 06, with an index naming the run that made them

The runner calls it when a profile's run (not smoke's) ends with 06. What a reader does not need is left out: the
default `parameters` cells (papermill's injected cell says what ran), stderr streams (warnings, progress), execution
counts and the tables' inline style. Pages are kept under
`MAX_BYTES` in all: a run whose pages would be larger says so and writes none.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from irlkit import layout, store

MAX_BYTES = 6_000_000
"""The bound on one profile's pages, figures included."""


def _markdown(notebook: Path) -> tuple[str, dict[str, bytes]]:
    """(markdown, {image file name: bytes}) of one executed notebook: the parameters it ran with (papermill's injected
    cell, not the defaults), no stderr, tables without their inline style (GitHub drops it)."""
    import nbformat
    from nbconvert import MarkdownExporter

    nb = nbformat.read(str(notebook), as_version=4)
    cells = []
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):  # the defaults; the injected cell after it says what ran
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.get("name") == "stderr")]
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    exporter = MarkdownExporter()
    body, resources = exporter.from_notebook_node(nb, resources={"output_files_dir": f"{notebook.stem}_files"})
    body = re.sub(r"<style scoped>.*?</style>\n?", "", body, flags=re.S)
    return re.sub(r"\n{4,}", "\n\n\n", body), resources.get("outputs", {})


def export(where: layout.Layout, final: bool, replicate: int = 0, level: str = "") -> Path | None:
    """Write replicate `replicate`'s executed notebooks (of the sweep level `level`, if one is named) and the profile's
    06 as pages; returns their folder, or None (and a line saying why) when the run has none or they would exceed
    `MAX_BYTES`. `final`: the run read the sealed test set."""
    rep = layout.Layout(where.profile, level=level).of_replicate(replicate)
    done = lambda folder, pattern: [nb for nb in sorted(folder.glob(pattern))  # noqa: E731
                                    if not nb.stem.endswith((".running", ".failed"))]
    notebooks = done(rep.notebooks, "0[1-5]_*.ipynb")
    if not notebooks:  # 06 alone is no run to read: the pages of the last run stay
        print(f"[pages] no executed notebooks in {rep.notebooks}: {layout.notebook_pages(where.profile)} is left as it was",
              flush=True)
        return None
    notebooks += done(where.notebooks, "06_*.ipynb")
    pages = {nb: _markdown(nb) for nb in notebooks}
    size = sum(len(body.encode()) + sum(map(len, images.values())) for body, images in pages.values())
    out = layout.notebook_pages(where.profile)
    if size > MAX_BYTES:
        print(f"[pages] the pages of {where.profile} would take {size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB "
              f"bound: {out} is left as it was", flush=True)
        return None
    made = json.loads(rep.manifest.read_text()) if rep.manifest.exists() else {}
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for nb, (body, images) in pages.items():
        (partial / f"{nb.stem}.md").write_text(body)
        for name, data in images.items():
            (partial / name).parent.mkdir(parents=True, exist_ok=True)
            (partial / name).write_bytes(data)
    lines = [f"# The `{where.profile}` profile's notebooks, executed",
             "",
             f"Replicate {replicate}'s notebooks" + (f" (level `{level}` of the RLHF-strength sweep)" if level else "")
             + f" and 06, as the run left them (made by `irlkit.pages`; stderr left out). Config `{made.get('config_hash', '?')}`, "
             f"code `{made.get('code_hash', '?')}` (content hashes of the settings and of irlkit, not commits); "
             f"{'a final replicate (recovery on the sealed test set)' if final else 'a development replicate'}, "
             f"finished {made.get('finished', '?')}. "
             f"Run them yourself: `python -m irlkit.runner {where.profile}"
             + (f" --level {level} --replicate {replicate}" if level else "") + "`.",
             ""]
    lines += [f"- [{nb.stem}]({nb.stem}.md)" for nb in notebooks]
    (partial / "README.md").write_text("\n".join(lines) + "\n")
    store.atomic_write_json(partial / "made_by.json", {"replicate": replicate, "level": level, "final": final, **{
        k: made.get(k) for k in ("config_hash", "code_hash", "cpu", "finished")}})
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    print(f"[pages] {len(notebooks)} notebooks as pages in {out} ({size / 1e6:.1f} MB)", flush=True)
    return out


def main(argv=None) -> None:
    """`python -m irlkit.pages PROFILE [--level L] [--replicate K] [--final]`: the pages of a run already made."""
    import argparse

    from irlkit.config import PROFILES

    parser = argparse.ArgumentParser(prog="python -m irlkit.pages", description=main.__doc__.split(": ", 1)[1])
    parser.add_argument("profile", choices=PROFILES)
    parser.add_argument("--level", default="", help="take the replicate's notebooks from this level of the sweep")
    parser.add_argument("--replicate", type=int, default=0)
    parser.add_argument("--final", action="store_true", help="the run was final (read the sealed test set)")
    args = parser.parse_args(argv)
    export(layout.Layout(args.profile), args.final, args.replicate, args.level)


if __name__ == "__main__":
    main()
