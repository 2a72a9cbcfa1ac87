"""Run the numbered notebooks of one profile with papermill (what run_all.sh calls).

    python -m irlkit.runner cpu --final               # every replicate (01–05 each) on the sealed test set, then 06
    python -m irlkit.runner cpu                       # the same, development: the sealed test set is never read
    python -m irlkit.runner cpu --replicate 2         # one replicate, 01–05 (resumable)
    python -m irlkit.runner cpu --only 06_analysis    # aggregate the committed replicates
    python -m irlkit.runner cpu --replicate 0 --only 03_irl 04_eval
    python -m irlkit.runner smoke --set rlhf.steps=4 --set irl.losses='["logistic"]' --seed 1

Executed copies go to data/runs/<profile>/r<k>/notebooks/ (06's to data/runs/<profile>/notebooks/),
never over the sources. A replicate's notebooks run one after another in one kernel, each in a fresh
namespace (`%reset -f`): the libraries are imported once per replicate, not once per notebook
(`--fresh-kernels` starts one per notebook, as JupyterLab would). When a replicate has run its last notebook (05, or 04 where the profile turns
re-alignment off), its results folder gets a manifest.json (config
and code hash, CPU, threads, wall time per notebook); data/results/<profile>/timings.json keeps every
replicate's wall times and the shared work's. The first failing notebook stops the run with its name
and the failing cell's error.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import sys
import time

from irlkit import config, layout, parallel, progress, replicates, store
from irlkit.config import PROFILES

NOTEBOOKS = ("01_rlhf", "02_sampling", "03_irl", "04_eval", "05_refinetune", "06_analysis")
PER_REPLICATE = NOTEBOOKS[:-1]
"""01–05 run once per replicate; 06 aggregates the replicates."""


def per_replicate(cfg) -> tuple:
    """The notebooks one replicate of `cfg` runs: 01–05, or 01–04 where `refinetune.enabled` is off."""
    return PER_REPLICATE if cfg.refinetune.enabled else PER_REPLICATE[:-1]


def run(profile: str, only: tuple = NOTEBOOKS, parameters: dict | None = None, replicate: int | None = None,
        fresh_kernels: bool = False) -> dict:
    """Run `only` (in order) for replicate `replicate`, or for every replicate of the profile when None;
    a replicate's notebooks share one kernel unless `fresh_kernels`. Returns the timings written to
    timings.json."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    unknown = set(only) - set(NOTEBOOKS)
    if unknown:
        raise ValueError(f"unknown notebooks {sorted(unknown)}; valid: {', '.join(NOTEBOOKS)}")
    parameters = parameters or {}
    cfg = config.load(profile, seed=parameters.get("SEED", 0), **parameters.get("OVERRIDES", {}))
    if replicate is not None and not 0 <= replicate < cfg.replicates:
        raise ValueError(f"replicate {replicate} is not in profile {profile!r}: replicates 0 … {cfg.replicates - 1}")
    if cfg.device != "cpu":
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device {cfg.device!r}: this machine has no CUDA device (torch {torch.__version__})")
    from irlkit import models

    models.check_against(cfg)  # settings that name parts of a model, against the start models on this machine
    for ref in config.unpinned(cfg):
        print(f"[warning] {profile}: {ref} names no Hub revision (org/name@<commit>): its files may change", file=sys.stderr)
    where = layout.Layout(profile, level=cfg.level)
    os.environ["IRLKIT_PROGRESS"] = "0"  # bars would flood the papermill log
    stages = per_replicate(cfg)
    if set(only) & set(PER_REPLICATE) - set(stages):
        print(f"[skip] {', '.join(sorted(set(only) & set(PER_REPLICATE) - set(stages)))}: off in profile {profile!r} "
              f"(refinetune.enabled=False); its replicates end at {stages[-1]}", file=sys.stderr)
    todo = [nb for nb in stages if nb in only]
    run_06 = "06_analysis" in only and replicate is None and not cfg.level  # 06 is the profile's: it reads every level
    if not todo and not run_06:  # nothing of `only` is on in this profile: no file is touched
        return _timings(where)
    replicate_list = ([replicate] if replicate is not None else list(range(cfg.replicates))) if todo else []
    plan = Plan([name for _ in replicate_list for name in todo] + (["06_analysis"] if run_06 else []), _timings(where))
    for k in replicate_list:
        rep = where.of_replicate(k)
        with _only_run_of(rep):
            made_by = _results_made_by(rep, cfg, todo, stages)
            with contextlib.nullcontext() if fresh_kernels else _kernel(rep) as kernel:
                seconds = _timings(where)["replicates"].get(f"r{k}", {})
                for name in todo:
                    seconds[name] = _execute(name, profile, rep, {**parameters, "REPLICATE": k}, kernel, note=plan.next())
                    seconds["total"] = round(sum(v for n, v in seconds.items() if n in stages), 1)
                    _update_timings(where, lambda t: t["replicates"].__setitem__(f"r{k}", dict(seconds)))
            if stages[-1] in todo or made_by:  # complete (or a part rerun with its settings): record what made it
                store.atomic_write_json(rep.manifest, replicates.manifest(
                    cfg, k, {n: seconds[n] for n in stages if n in seconds}, rep.results))
    # the shared work's build times live in the run folder: a machine without it (06 on a fresh clone) keeps the record
    shared = _shared_seconds(where)
    if shared:
        _update_timings(where, lambda t: t.__setitem__("shared", shared))
    if run_06:  # its own wall time is printed, not recorded: reading results leaves the committed files as they are
        _execute("06_analysis", profile, where, parameters, note=plan.next())
        if profile != "smoke":  # the notebooks as pages under docs/ (smoke's would change with every test run)
            from irlkit import pages

            pages.export(where, final=cfg.data.sealed)
    return _timings(where)


class Plan:
    """Run-level progress: which notebook of how many this is, and an ETA from the wall times timings.json
    recorded for each notebook (the median over its replicates; a notebook never timed counts as unknown)."""

    def __init__(self, notebooks: list[str], timings: dict):
        self.notebooks, self.done, self.t0 = notebooks, 0, time.time()
        recorded: dict[str, list[float]] = {}
        for entry in timings.get("replicates", {}).values():
            for name, sec in entry.items():
                if name != "total" and isinstance(sec, (int, float)):
                    recorded.setdefault(name, []).append(sec)
        self.expected = {name: sorted(v)[len(v) // 2] for name, v in recorded.items()}  # the upper median

    def next(self) -> str:
        """The next notebook's place in the run and the ETA of what is left, counting it."""
        left = [self.expected.get(name) for name in self.notebooks[self.done:]]
        self.done += 1
        eta = (f", ETA {progress.duration(sum(left))}" if all(v is not None for v in left)
               else f", ETA ≥ {progress.duration(sum(v for v in left if v))}" if any(left) else "")
        return f"notebook {self.done} of {len(self.notebooks)}, {progress.duration(time.time() - self.t0)} so far{eta}"


def end_block(profile: str, level: str = "") -> str:
    """What a run prints when it ends: where its report, figures and executed notebooks are, and how to open them."""
    where = layout.Layout(profile, level=level)
    notebooks = sorted(where.runs.glob("r*/notebooks/01_rlhf.ipynb"))
    lines = [f"[results] {profile}{' level ' + level if level else ''}:",
             f"  report and summary: {where.report if where.report.exists() else where.results}",
             f"  figures:            {where.figures}",
             f"  executed notebooks: {where.runs}/r<k>/notebooks/ (06's: {where.notebooks})"]
    if notebooks:
        lines.append(f"  open them:          jupyter lab {notebooks[0].parent}")
    return "\n".join(lines)


def _results_made_by(rep: layout.Layout, cfg, todo: list, stages: tuple) -> bool:
    """Whether replicate `rep` holds finished results that this run's config and code made. Results that another
    config or code made are never mixed with this run's: a run of part of the replicate is refused with the
    reason, and a run of the whole replicate drops their manifest first (a killed run leaves none claiming them)."""
    if not rep.manifest.exists():
        return False
    m = store.read_json(rep.manifest)
    made = (m.get("config_hash"), m.get("code_hash"))
    if made == (cfg.hash(), replicates.code_hash()):
        return True
    if list(todo) != list(stages):
        raise SystemExit(f"replicate {rep.replicate} of {rep.profile!r} holds results of config {made[0]}, code {made[1]}; "
                         f"this run (config {cfg.hash()}, code {replicates.code_hash()}) would rerun only "
                         f"{', '.join(todo)} and mix the two: run the whole replicate (without --only), or run it with "
                         f"the settings that made it")
    rep.manifest.unlink()
    return False


def _timings(where: layout.Layout) -> dict:
    """data/results/<profile>/timings.json: every replicate's wall time per notebook and the shared work's. A file
    that cannot be read is named, and a new one started (the next update writes it)."""
    path = where.result("timings")
    try:
        timings = store.read_json(path) if path.exists() else {}
        if not isinstance(timings, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        print(f"[warning] {path} is damaged ({e}): it is started anew", file=sys.stderr, flush=True)
        timings = {}
    timings.pop("_manifest", None)
    if "replicates" not in timings:  # a single-run timings file of an earlier layout: kept beside
        timings = {"replicates": {}, **({"single_run": timings} if timings else {})}
    return timings


def _update_timings(where: layout.Layout, change) -> None:
    """Apply `change(timings)` to timings.json under a lock, read afresh: replicates running side by side each
    add their own entry, and none is lost. Unchanged timings leave the file untouched."""
    with store.locked(where.runs / ".timings.lock"):
        before = _timings(where)
        after = json.loads(json.dumps(before))
        change(after)
        if after != before or not where.result("timings").exists():
            store.atomic_write_json(where.result("timings"), after)


_running: list[str] = []
"""The notebooks this process has started, the last one running (for the line Ctrl-C prints)."""
_resume: list[str] = []
"""The command that resumes this run (`main` sets it), for the line a failure prints."""


def _resume_line() -> str:
    return f"; every finished stage is kept, resume with: {_resume[-1]}" if _resume else ""


def _execute(name: str, profile: str, where: layout.Layout, parameters: dict, kernel=None, note: str = "") -> float:
    """Run notebook `name` in `kernel` (a started kernel manager, see `_kernel`), or in a kernel of its own;
    `note`: its place in the run (`Plan.next`), printed beside its name."""
    import papermill as pm

    where.notebooks.mkdir(parents=True, exist_ok=True)
    level = f", level {where.level}" if where.level else ""
    label = f"{name} ({profile}{level}" + (f", replicate {where.replicate})" if where.replicate is not None else ")")
    print(f"[run] {label}" + (f" · {note}" if note else ""), flush=True)
    _running.append(label)
    done, running, failed = (where.notebooks / f"{name}{suffix}.ipynb" for suffix in ("", ".running", ".failed"))
    t0 = time.time()
    try:  # written beside the last good copy, which it replaces only when it succeeds
        with contextlib.nullcontext(kernel) if kernel else _kernel(where) as kernel, \
                _progress_to_terminal(where, name) as progress_log:
            fresh_namespace(kernel, progress_log)
            pm.execute_notebook(str(layout.NOTEBOOKS / f"{name}.ipynb"), str(running),
                                parameters={"PROFILE": profile, **parameters}, kernel_name="python3", km=kernel,
                                progress_bar=False, cwd=str(layout.NOTEBOOKS))
    except pm.PapermillExecutionError as e:
        os.replace(running, failed)
        print(f"\n[failed] notebook {label}, cell {e.exec_count}: {e.ename}: {e.evalue}\n"
              f"executed copy with the traceback: {failed}" + (f"; the last good run: {done}" if done.exists() else "")
              + _resume_line(), file=sys.stderr)
        raise SystemExit(1)
    except Exception as e:  # the kernel itself died (what an out-of-memory kill does), or could not be reached
        if running.exists():
            os.replace(running, failed)
        what = ("its kernel died (killed from outside: running out of memory is the usual cause)"
                if type(e).__name__ == "DeadKernelError" else f"{type(e).__name__}: {e}")
        print(f"\n[failed] notebook {label}: {what}" + (f"; what it ran: {failed}" if failed.exists() else "")
              + _resume_line(), file=sys.stderr)
        raise SystemExit(1)
    os.replace(running, done)
    failed.unlink(missing_ok=True)
    seconds = round(time.time() - t0, 1)
    print(f"[done] {label} in {seconds:.0f} s", flush=True)
    return seconds


@contextlib.contextmanager
def _kernel(where: layout.Layout):
    """A started IPython kernel (its manager) in the notebooks folder, shut down when the block ends. Its
    own output and its workers' (what the notebook does not show) go to <logs>/kernel.log."""
    import nbformat
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    starter = NotebookClient(nbformat.v4.new_notebook(), kernel_name="python3")
    manager = starter.create_kernel_manager()
    where.logs.mkdir(parents=True, exist_ok=True)
    with parallel.output_to(str(where.logs / "kernel.log")):  # the kernel inherits these descriptors
        starter.start_new_kernel(cwd=str(layout.NOTEBOOKS))
    try:
        yield manager
    finally:
        run_sync(manager.shutdown_kernel)()  # politely: its exit ends its worker pools too


_FRESH_NAMESPACE = """\
ip = get_ipython()
if not hasattr(ip, "irlkit_module_names"):  # a new kernel: its module's own names (multiprocessing reads __spec__)
    ip.irlkit_module_names = {{k: v for k, v in ip.user_ns.items() if k.startswith("__") and k.endswith("__")}}
ip.run_line_magic("reset", "-f")
get_ipython().user_ns.update({{k: v for k, v in get_ipython().irlkit_module_names.items() if k not in get_ipython().user_ns}})
__import__("os").environ[{env!r}] = {path!r}
"""


def fresh_namespace(kernel, progress_log) -> None:
    """Empty the kernel's namespace (what the notebook before defined; the imported modules stay) and point
    its progress lines (`irlkit.progress`) at `progress_log`: a notebook starts as it would in a new kernel."""
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient()
    client.load_connection_info(kernel.get_connection_info())
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        reply = client.execute_interactive(_FRESH_NAMESPACE.format(env=progress.ENV, path=str(progress_log)),
                                           store_history=False, timeout=120, output_hook=lambda message: None)
    finally:
        client.stop_channels()
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"could not reset the kernel's namespace: {reply['content'].get('evalue')}")


@contextlib.contextmanager
def _progress_to_terminal(where: layout.Layout, name: str):
    """While a notebook runs: the runner's own output (papermill's) goes to the log folder, and the
    progress lines its stages write (`irlkit.progress`, to the file this yields) are printed here, each as
    it comes."""
    import threading

    where.logs.mkdir(parents=True, exist_ok=True)
    progress_log = where.logs / f"{name}.progress"
    progress_log.write_text("")
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    stop = threading.Event()

    def tail():
        with open(progress_log) as f:
            while True:
                chunk = f.readline()
                if chunk:
                    terminal.write("  " + chunk)
                elif stop.is_set():
                    return
                else:
                    stop.wait(0.5)

    printer = threading.Thread(target=tail, name="progress", daemon=True)
    printer.start()
    try:
        with parallel.output_to(str(where.logs / "kernel.log")):
            yield progress_log
    finally:
        stop.set()
        printer.join(timeout=5)
        terminal.close()


def _shared_seconds(where: layout.Layout) -> dict:
    """Build seconds of every stage the replicates share (from their manifests)."""
    out = {}
    for manifest in sorted(where.shared.rglob(store.MANIFEST)):
        seconds = json.loads(manifest.read_text()).get("build_seconds")
        if seconds is not None:
            out[str(manifest.parent.relative_to(where.shared))] = seconds
    return out


def setting(text: str) -> tuple[str, object]:
    """`section.field=value` of `--set` (`config.parse_setting`), as argparse reads a value."""
    try:
        return config.parse_setting(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def command_line() -> argparse.ArgumentParser:
    """The command line of `python -m irlkit.runner`."""
    parser = argparse.ArgumentParser(prog="python -m irlkit.runner", description="run the notebooks of one profile")
    parser.add_argument("profile", choices=PROFILES)
    parser.add_argument("--only", nargs="+", default=list(NOTEBOOKS), choices=NOTEBOOKS)
    parser.add_argument("--replicate", type=int, default=None,
                        help="run one replicate's notebooks (01–05) only; default: every replicate, then 06")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="start a kernel per notebook (as JupyterLab would) instead of one per replicate: "
                             "about 10 s slower per notebook; shows a notebook does not lean on another's state")
    parser.add_argument("--set", type=setting, action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="override a setting of irlkit/config.py, validated before anything runs (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="the profile's seed (replicate k derives its own from it)")
    parser.add_argument("--level", default=None, metavar="NAME",
                        help="run a level of the profile's RLHF-strength sweep (config.STRENGTH): its settings, 01–04, "
                             "in folders of its own")
    parser.add_argument("--cell", type=int, default=None, metavar="I",
                        help="run cell I of the RLHF-strength sweep: level I // replicates, replicate I %% replicates "
                             "(an array job runs one cell per task)")
    parser.add_argument("--cells", action="store_true", help="list the sweep's cells, what each holds, and their commands")
    parser.add_argument("--final", action="store_true",
                        help="a final replicate: load the sealed test set and report every recovery number on it "
                             "(data.sealed=true; ./run_all.sh runs this). Without it the run is development: the "
                             "sealed set is never read")
    return parser


def main(argv=None) -> int:
    parser = command_line()
    args = parser.parse_args(argv)
    if args.cells:
        print(cells_table(args.profile, final=args.final))
        return 0
    if args.cell is not None:
        try:
            args.level, args.replicate = cell(args.profile, args.cell)
        except ValueError as e:
            parser.error(str(e))
    if args.level:
        args.set.insert(0, ("level", args.level))
    for key, value in [kv for kv in args.set if kv[0] == "seed"]:  # the seed has its own option
        if not isinstance(value, int) or isinstance(value, bool):
            parser.error(f"seed must be a whole number, got {value!r}")
        args.set.remove((key, value))
        args.seed = value
    only = tuple(args.only)
    if args.replicate is not None and only == NOTEBOOKS:
        only = PER_REPLICATE
    if args.replicate is not None and only == ("06_analysis",):
        parser.error("06_analysis aggregates every replicate: run it without --replicate")
    resume = resume_command(args)
    _resume.append(resume)
    if args.final:
        args.set.append(("data.sealed", True))
    parameters = {"SEED": args.seed, "OVERRIDES": dict(args.set)}
    for name in ("IRLKIT_DATA", "IRLKIT_FIGURES"):  # relative to where the command runs, not to the notebooks' folder
        if os.environ.get(name):
            os.environ[name] = os.path.abspath(os.environ[name])
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job of a script starts with SIGINT ignored
    signal.signal(signal.SIGTERM, _terminate)
    try:
        run(args.profile, only, parameters, replicate=args.replicate, fresh_kernels=args.fresh_kernels)
        print(end_block(args.profile, args.level or ""), flush=True)
    except (ValueError, KeyError, TypeError) as e:
        parser.error(str(e).strip("'\""))
    except PermissionError as e:
        print(f"[failed] {args.profile}: cannot write {e.filename} ({e.strerror}): point IRLKIT_DATA (and IRLKIT_FIGURES) "
              f"at a folder you can write to", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno != errno.EROFS:
            raise
        print(f"[failed] {args.profile}: {e.filename} is on a read-only file system: point IRLKIT_DATA (and "
              f"IRLKIT_FIGURES) at a writable folder", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        where = layout.Layout(args.profile, args.replicate, level=args.level or "")
        records = list(where.results.glob("realignment/*.json")) if args.replicate is not None else []
        print(f"\n[stopped] {args.profile}{' in ' + _running[-1] if _running else ''}: every finished stage is kept "
              f"({where.runs}); resume with: {resume}" + (
                  f"\n[stopped] 05's {len(records)} finished policies are recorded in {where.results / 'realignment'}: "
                  f"committed, they let the replicate resume on another machine" if records else ""),
              file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(130)  # now: what papermill's event loop would print while shutting down carries nothing more;
        # the kernel and its workers exit by themselves when this process is gone (parallel.exit_with_parent)
    return 0


def cell(profile: str, index: int) -> tuple[str, int]:
    """(level, replicate) of cell `index` of the profile's RLHF-strength sweep: levels in `config.STRENGTH`'s
    order, each level's replicates in turn."""
    levels = config.STRENGTH.get(profile, ())
    replicates_per_level = config.load(profile).replicates
    if not 0 <= index < len(levels) * replicates_per_level:
        raise ValueError(f"profile {profile!r} has {len(levels) * replicates_per_level} sweep cells "
                         f"({len(levels)} levels × {replicates_per_level} replicates): cell {index} is not one of them")
    return levels[index // replicates_per_level].name, index % replicates_per_level


def cells_table(profile: str, final: bool = False) -> str:
    """The sweep's cells, one line each: index, level, replicate, what its results folder holds, the command."""
    import shlex

    levels = config.STRENGTH.get(profile, ())
    if not levels:
        return f"profile {profile!r} has no RLHF-strength sweep (config.STRENGTH)"
    width = max(len(lv.name) for lv in levels)
    lines = [f"{'cell':>4}  {'level':{width}} {'replicate':>9}  {'holds':34} command"]
    for index in range(len(levels) * config.load(profile).replicates):
        level, k = cell(profile, index)
        cfg = config.load(profile, level=level, **({"data.sealed": True} if final else {}))
        rep = layout.Layout(profile, k, level)
        m = store.read_json(rep.manifest) if rep.manifest.exists() else None
        holds = ("nothing yet" if m is None else "results of this config and code"
                 if (m.get("config_hash"), m.get("code_hash")) == (cfg.hash(), replicates.code_hash())
                 else f"results of config {m.get('config_hash')}, code {m.get('code_hash')}")
        command = shlex.join(["python", "-m", "irlkit.runner", profile, "--cell", str(index), *(["--final"] if final else [])])
        lines.append(f"{index:>4}  {level:{width}} {k:>9}  {holds:34} {command}")
    return "\n".join(lines)


def resume_command(args) -> str:
    """The command that resumes this run, quoted for a POSIX shell, so that pasting it works."""
    import shlex

    words = ["python", "-m", "irlkit.runner", args.profile, *(["--final"] if args.final else []),
             *(["--level", args.level] if args.level else []),
             *(["--replicate", str(args.replicate)] if args.replicate is not None else []),
             *(w for k, v in args.set if k != "level" for w in ("--set", f"{k}={json.dumps(v)}")),
             *(["--seed", str(args.seed)] if args.seed else [])]
    return shlex.join(words)


def _terminate(signum, frame):
    raise KeyboardInterrupt  # TERM stops the run the way Ctrl-C does, with the same one line


@contextlib.contextmanager
def _only_run_of(where: layout.Layout):
    """Hold an exclusive lock on one replicate's run folder while it runs: a second run of the same replicate is
    refused with a clear message, while other replicates of the profile run side by side on the same data folder
    (the stages they share are built once, `store.stage`). The OS releases it when this process dies, even by kill -9."""
    import fcntl

    where.runs.mkdir(parents=True, exist_ok=True)
    with open(where.runs / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another run of profile {where.profile!r} is using replicate {where.replicate} "
                             f"({where.runs}): wait for it to finish (or stop it) before starting this one") from None
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


if __name__ == "__main__":
    sys.exit(main())
