"""Where a run's time went: build seconds of every artifact, from the manifests under data/runs/<profile>/.

    .venv/bin/python benchmarks/stage_times.py [cpu|smoke|paper]

A stage that contains another (a probe sweep builds the features it needs) includes its time.
"""
import json
import sys

from irlkit import store
from irlkit.layout import Layout


def main():
    profile = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    runs = Layout(profile).runs
    rows = []
    for manifest in sorted(runs.rglob(store.MANIFEST)):
        seconds = json.loads(manifest.read_text()).get("build_seconds")
        if seconds is not None:
            rows.append((str(manifest.parent.relative_to(runs)), seconds))
    if not rows:
        sys.exit(f"no timed artifacts under {runs}: run ./run_all.sh {profile} first")
    for name, seconds in rows:
        print(f"{seconds:9.1f} s  {name}")
    print(f"{sum(s for _, s in rows):9.1f} s  total (nested stages counted twice)")


if __name__ == "__main__":
    main()
