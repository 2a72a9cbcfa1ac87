"""irlkit: the helper package of the irl-llm compendium (see README.md).

Its public entry point audits a model pair of your own (docs/audit.md):

    import irlkit
    audit = irlkit.recover("path/to/aligned", "path/to/reference", prompts)
"""
import warnings as _warnings

__version__ = "0.1.0"
# tqdm.auto warns in a notebook without ipywidgets when the first library that imports it loads, before any stage
# runs: the bars are off under papermill, so nothing in it is for the reader
_warnings.filterwarnings("ignore", message="IProgress not found")
__all__ = ["recover", "Recovery"]


def __getattr__(name):  # the audit loads torch: imported when first used, so `python -m irlkit.config` stays light
    if name in __all__:
        from irlkit import audit

        return getattr(audit, name)
    raise AttributeError(f"module 'irlkit' has no attribute {name!r}")
