"""Run the numbered notebooks of one profile with papermill (what run_all.sh calls).

    python -m irlkit.runner cpu [--only 03_irl 04_eval]

Executed copies go to data/runs/<profile>/notebooks/ (never over the sources);
wall time per notebook goes to data/results/<profile>/timings.json. The first
failing notebook stops the run with its name and the failing cell's error.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from irlkit import layout, store
from irlkit.config import PROFILES

NOTEBOOKS = ("01_rlhf", "02_sampling", "03_irl", "04_eval", "05_refinetune", "06_analysis")


def run(profile: str, only: tuple = NOTEBOOKS, parameters: dict | None = None) -> dict:
    import papermill as pm

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    unknown = set(only) - set(NOTEBOOKS)
    if unknown:
        raise ValueError(f"unknown notebooks {sorted(unknown)}; valid: {', '.join(NOTEBOOKS)}")
    where = layout.Layout(profile)
    out_dir = where.notebooks
    out_dir.mkdir(parents=True, exist_ok=True)
    timings_path = where.result("timings")
    timings = store.read_json(timings_path) if timings_path.exists() else {}
    timings.pop("_manifest", None)
    os.environ["IRLKIT_PROGRESS"] = "0"  # bars would flood the papermill log
    for name in NOTEBOOKS:
        if name not in only:
            continue
        print(f"[run] {name} ({profile})", flush=True)
        t0 = time.time()
        try:
            pm.execute_notebook(str(layout.NOTEBOOKS / f"{name}.ipynb"), str(out_dir / f"{name}.ipynb"),
                                parameters={"PROFILE": profile, **(parameters or {})}, kernel_name="python3",
                                progress_bar=False, cwd=str(layout.NOTEBOOKS))
        except pm.PapermillExecutionError as e:
            print(f"\n[failed] notebook {name} ({profile}), cell {e.exec_count}: {e.ename}: {e.evalue}\n"
                  f"executed copy with the traceback: {out_dir / f'{name}.ipynb'}", file=sys.stderr)
            raise SystemExit(1)
        timings[name] = round(time.time() - t0, 1)
        print(f"[done] {name} in {timings[name]:.0f} s", flush=True)
        store.atomic_write_json(timings_path, timings)
    timings["total"] = round(sum(v for k, v in timings.items() if k in NOTEBOOKS), 1)
    store.atomic_write_json(timings_path, timings)
    return timings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m irlkit.runner", description="run the notebooks of one profile")
    parser.add_argument("profile", choices=PROFILES)
    parser.add_argument("--only", nargs="+", default=list(NOTEBOOKS), choices=NOTEBOOKS)
    args = parser.parse_args(argv)
    run(args.profile, tuple(args.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
