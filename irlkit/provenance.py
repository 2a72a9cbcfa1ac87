"""What made a result: the code hash of the package and notebooks, and the CPU it ran on.

    provenance.code_hash()   # e.g. '3cd7c98e…': a content hash of `CODE`, not a git commit
"""
from __future__ import annotations

import hashlib
import platform

from irlkit import layout

CODE = ("irlkit/**/*.py", "notebooks/0[1-5]_*.ipynb", "pyproject.toml")
"""What makes a replicate's results: the package, notebooks 01–05, the pinned stack."""
RENDER_ONLY = ("irlkit/plots.py", "irlkit/quantities.py", "irlkit/report.py", "irlkit/replicates.py")
"""Modules that only read results and draw or aggregate them (as 06 does): editing them keeps every replicate."""


def code_hash() -> str:
    """SHA-256 (16 hex digits) of every file of `CODE` (but `RENDER_ONLY`) in the checkout, path and bytes:
    the code that made a replicate's results."""
    h = hashlib.sha256()
    for pattern in CODE:
        for path in sorted(layout.ROOT.glob(pattern)):
            if "__pycache__" not in path.parts and str(path.relative_to(layout.ROOT)) not in RENDER_ONLY:
                h.update(str(path.relative_to(layout.ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
