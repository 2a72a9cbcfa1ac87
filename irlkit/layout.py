"""Every folder and file the compendium reads or writes, built here and nowhere else.

    layout = Layout("cpu")
    layout.policy("smollm2-135m-rlhf")     # data/runs/cpu/policies/smollm2-135m-rlhf
    layout.result("irl")                   # data/results/cpu/irl.json
    layout.figures                         # figures/cpu (06's); Layout("cpu", 1).figures: figures/cpu/r1
    Layout("cpu", 1, "48x8-beta0.01").results  # data/results/cpu/levels/48x8-beta0.01/replicates/r1: a sweep cell's

Three roots: `data/` (assets shared by every profile, `IRLKIT_DATA` moves it; the tests do),
`data/runs/<profile>/` (checkpoints, texts, features: large, git-ignored) and
`data/results/<profile>/` with `figures/<profile>/` (small, committed; `IRLKIT_FIGURES` moves figures).
A notebook, script or benchmark asks this module for a path and never spells a folder name.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DOCS = ROOT / "docs"


def data_dir() -> Path:
    return Path(os.environ.get("IRLKIT_DATA", ROOT / "data"))


def raw_dir() -> Path:
    """Downloaded registry archives and the files extracted from them (every profile's)."""
    return data_dir() / "raw"


def models_dir() -> Path:
    """Converted base models (safetensors folders) and the tiny smoke models (every profile's)."""
    return data_dir() / "models"


def experiments_dir() -> Path:
    """Result JSON of the experiment scripts (`scripts/experiments/`), one file per experiment run."""
    return data_dir() / "results" / "experiments"


def experiment_result(name: str) -> Path:
    return experiments_dir() / f"{name}.json"


def experiment_figures() -> Path:
    """Figures of the experiment scripts, committed beside their results (`IRLKIT_FIGURES` moves them)."""
    return Path(os.environ.get("IRLKIT_FIGURES", ROOT / "figures")) / "experiments"


def bench_dir() -> Path:
    """Result JSON of the benchmarks (`benchmarks/`): speed, side by side, one file per benchmark run."""
    return data_dir() / "results" / "bench"


def bench_result(name: str) -> Path:
    return bench_dir() / f"{name}.json"


def notebook_pages(profile: str) -> Path:
    """The executed notebooks of a profile's run as pages that read without a run (`irlkit.pages`; committed;
    `IRLKIT_PAGES` moves them, as the tests do)."""
    return Path(os.environ.get("IRLKIT_PAGES", DOCS / "notebooks")) / profile


def experiment_scratch(name: str) -> Path:
    """A scratch data folder for an experiment that reruns stages apart from the main run (git-ignored)."""
    return data_dir() / "runs" / "experiments" / name


class Layout:
    """The run folders and result files of one profile, or of one replicate of it.

    A replicate `k` is one path prefix: its stages under `data/runs/<profile>/r<k>/`, its results under
    `data/results/<profile>/replicates/r<k>/`. Work that is the same in every replicate (the start
    policy's texts and perplexity) lives once under `data/runs/<profile>/shared/`. Without a replicate
    (06, which aggregates them) the layout is the profile's own: its summary, report and figures."""

    def __init__(self, profile: str, replicate: int | None = None, level: str = ""):
        self.profile, self.replicate, self.level = profile, replicate, level
        within = Path("levels", level) if level else Path()  # a level of the RLHF-strength sweep: its own folders
        profile_runs = data_dir() / "runs" / profile / within
        profile_results = data_dir() / "results" / profile / within
        prefix = "" if replicate is None else f"r{replicate}"
        self.runs = profile_runs / prefix
        """Everything a run makes: checkpoints, texts, features, logs (git-ignored)."""
        self.shared = data_dir() / "runs" / profile / "shared"
        """Stages every replicate shares (computed once), every level's too."""
        self.results = profile_results / "replicates" / prefix if prefix else profile_results
        """Small JSON/CSV files the README, the figures and 06 read (committed)."""
        self.replicates = profile_results / "replicates"
        """Every replicate's results folder, one `r<k>` each."""
        self.figures = Path(os.environ.get("IRLKIT_FIGURES", ROOT / "figures")) / profile / within / prefix
        """A replicate's own figures (01–05) under `figures/<profile>/r<k>/`; 06's over replicates in `figures/<profile>/`."""
        self.notebooks = self.runs / "notebooks"
        """Executed copies of the notebooks (papermill's output; never the sources)."""
        self.logs = self.runs / "logs"

    def __repr__(self) -> str:
        level = f", level {self.level}" if self.level else ""
        return f"Layout({self.profile!r}, replicate {self.replicate}{level}: runs {self.runs}, results {self.results})"

    def of_replicate(self, replicate: int) -> "Layout":
        return Layout(self.profile, replicate, self.level)

    def of_level(self, level: str) -> "Layout":
        """The same profile's folders for one level of its RLHF-strength sweep (`config.STRENGTH`)."""
        return Layout(self.profile, self.replicate, level)

    def realignment_record(self, label: str) -> Path:
        """05's record of one policy (`stages.realignment.record`): what 05 reports of it, committed as it finishes,
        so that a replicate's re-alignment resumes on another machine."""
        return self.results / "realignment" / f"{label}.json"

    def replicate_results(self) -> dict[int, Path]:
        """{k: results folder} of every replicate that has one, in order of k."""
        found = {int(p.name[1:]): p for p in self.replicates.glob("r*") if p.is_dir() and p.name[1:].isdigit()}
        return dict(sorted(found.items()))

    # -- stage folders (each a `store.stage` artifact) --

    def policy(self, label: str) -> Path:
        """A policy trained by RLOO (01, 05): weights, log.jsonl, summary.json."""
        return self.runs / "policies" / label

    def texts(self, label: str, shared: bool = False) -> Path:
        """One policy's continuations of the prompts with both judges' scores (`shared`: the same in
        every replicate, e.g. the start policy's)."""
        return (self.shared if shared else self.runs) / "texts" / label

    def perplexity(self, label: str, shared: bool = False) -> Path:
        return (self.shared if shared else self.runs) / "perplexity" / label

    def path_start(self, size: str) -> Path:
        """The first point of every toxicity–KL path of one size in this replicate: its start, measured once."""
        return self.runs / "path_start" / size

    def kl(self, label: str) -> Path:
        """A policy's KL to its start on the val prompts, from sampled continuations."""
        return self.runs / "kl" / label

    def demos(self, size: str) -> Path:
        """02's paired demonstrations of one size."""
        return self.runs / "demos" / size

    def features(self, size: str) -> Path:
        """Backbone features of every text IRL reads, for one size."""
        return self.irl(size) / "features"

    def irl(self, size: str) -> Path:
        """03's folder of one size: its features and every (mode, loss)'s reward models."""
        return self.runs / "irl" / size

    def irl_model(self, size: str, mode: str, loss: str) -> Path:
        """03's reward models of one (size, mode, loss): every seed's rewards and history."""
        return self.irl(size) / f"{mode}-{loss}"

    def logprobs(self, size: str, policy: str) -> Path:
        """04's log-probabilities of the val/test pools under one policy (`rlhf` or `start`)."""
        return self.runs / "logprobs" / f"{size}-{policy}"

    def labels(self, folder_of) -> list[str]:
        """The labels that have a folder of one kind, e.g. `labels(layout.policy)`: every trained policy."""
        parent = folder_of("_").parent
        return sorted(p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")) if parent.is_dir() else []

    def link_into(self, scratch_data: Path, folders: list[Path]) -> None:
        """Make `scratch_data` a data folder that borrows this run's assets and `folders` (read only, by
        symbolic links at the same places), for experiments that rerun part of the study beside it."""
        for folder in (raw_dir(), models_dir(), *folders):
            link = scratch_data / Path(folder).relative_to(data_dir())
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(folder)

    def log(self, job: str) -> Path:
        """The log file of one job run in a worker process (`irlkit.parallel`)."""
        return self.logs / (re.sub(r"[^A-Za-z0-9_.-]+", "_", job) + ".log")

    # -- result files (committed) --

    def result(self, name: str) -> Path:
        """A results JSON: judges, rlhf, sampling, irl, refinetune, timings."""
        return self.results / f"{name}.json"

    def table(self, name: str) -> Path:
        """A results CSV the figures read: rlhf_curves, refinetune_curves, irl_history."""
        return self.results / f"{name}.csv"

    @property
    def manifest(self) -> Path:
        """A replicate's provenance: config hash, code hash, CPU, threads, wall time."""
        return self.results / "manifest.json"

    @property
    def summary(self) -> Path:
        """06's aggregate over replicates: every headline quantity with its interval."""
        return self.results / "summary.json"

    @property
    def report(self) -> Path:
        """Every table of 06 in one generated Markdown page."""
        return self.results / "report.md"
