"""A run killed hard leaves nothing running; a second run of the same profile is refused; TERM stops
with one line that says how to resume. Real processes: runner → notebook kernel → worker pool."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUN = [sys.executable, "-m", "irlkit.runner", "smoke", "--replicate", "0"]


def _children() -> dict[int, list[int]]:
    tree = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(pid: int) -> dict[int, int]:
    """{pid: depth} of every live process below `pid`."""
    tree, out, todo = _children(), {}, [(pid, 0)]
    while todo:
        p, depth = todo.pop()
        for child in tree.get(p, []):
            out[child] = depth + 1
            todo.append((child, depth + 1))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start_until_workers(timeout: float = 180):
    """The runner, started and waited for until a worker of the pool exists (runner → kernel → worker)."""
    run = subprocess.Popen(RUN, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while time.time() < deadline:
        tree = _descendants(run.pid)
        if any(depth >= 3 for depth in tree.values()) or any(
                b"multiprocessing" in Path(f"/proc/{p}/cmdline").read_bytes() for p in tree if _alive(p)):
            return run, tree
        if run.poll() is not None:
            pytest.fail(f"the run ended before its workers started: {run.communicate()[1][-2000:]}")
        time.sleep(0.3)
    run.kill()
    pytest.fail("no worker process appeared")


@pytest.mark.slow
def test_kill_9_leaves_no_process_behind_and_a_second_run_is_refused(data_home):
    run, _ = _start_until_workers()
    second = subprocess.run(RUN, capture_output=True, text=True, timeout=120)
    assert second.returncode != 0 and "another run of profile 'smoke'" in second.stderr
    below = _descendants(run.pid)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in below):
        time.sleep(0.2)
    left = [p for p in below if _alive(p)]
    assert not left, f"still running 10 s after kill -9 of the runner: {left}"


@pytest.mark.slow
def test_term_stops_with_one_line_that_says_how_to_resume(data_home):
    run, _ = _start_until_workers()
    below = _descendants(run.pid)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, err[-2000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and lines[-1].startswith("[stopped] smoke")
    assert "in 01_rlhf (smoke, replicate 0)" in lines[-1]
    assert "resume with: python -m irlkit.runner smoke --replicate 0" in lines[-1]
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in below):
        time.sleep(0.2)
    assert not [p for p in below if _alive(p)]


@pytest.mark.slow
def test_two_replicates_side_by_side_on_one_folder_match_one_after_the_other(data_home, tmp_path, monkeypatch):
    """The README's array-job command, twice at once on one data folder: both finish, each shared stage (the
    start policy's texts and perplexity) is built by one of them, timings.json keeps both, and every number is
    what the two replicates give one after the other in a folder of their own."""
    from benchmarks.compare_results import compared

    from irlkit import layout, runner

    runs = [subprocess.Popen([sys.executable, "-m", "irlkit.runner", "smoke", "--replicate", str(k)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in (0, 1)]
    outs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outs]
    printed = "".join(out for out, _ in outs)
    for size in ("tiny-a", "tiny-b"):
        for stage in (f"texts/{size}-start", f"perplexity/{size}-start"):
            assert printed.count(f"[stage] {stage}: building") == 1, stage
    side_by_side = layout.Layout("smoke")
    assert set(json.loads(side_by_side.result("timings").read_text())["replicates"]) == {"r0", "r1"}

    alone = tmp_path / "alone"
    (alone / "data").mkdir(parents=True)
    for sub in ("raw", "models"):
        (alone / "data" / sub).symlink_to(data_home / sub)
    monkeypatch.setenv("IRLKIT_DATA", str(alone / "data"))
    monkeypatch.setenv("IRLKIT_FIGURES", str(alone / "figures"))
    for k in (0, 1):
        runner.run("smoke", only=runner.PER_REPLICATE, replicate=k)
    for k in (0, 1):
        assert not compared(side_by_side.of_replicate(k).results, layout.Layout("smoke", k).results), k


def test_the_resume_line_is_quoted_for_a_shell_and_runs_as_pasted(monkeypatch):
    """A list override and a text with spaces survive being pasted into a shell: split as a shell splits it, the
    resume command gives the run the same settings."""
    import shlex

    from irlkit import runner

    argv = ["smoke", "--final", "--replicate", "1", "--set", 'irl.losses=["logistic", "hinge"]', "--set", "judge=a b"]
    calls = []
    monkeypatch.setattr(runner, "run", lambda profile, only, parameters, replicate=None, fresh_kernels=False:
                        calls.append((profile, only, parameters, replicate)))
    runner.main(argv)
    words = shlex.split(runner.resume_command(runner.command_line().parse_args(argv)))
    assert words[:3] == ["python", "-m", "irlkit.runner"]
    runner.main(words[3:])
    assert calls[0] == calls[1] and calls[0][2]["OVERRIDES"]["irl.losses"] == ["logistic", "hinge"]


def test_bad_invocations_and_a_damaged_timings_file_end_in_one_clear_line(data_home, capsys):
    from irlkit import layout, runner

    with pytest.raises(SystemExit):
        runner.main(["smoke", "--replicate", "0", "--only", "06_analysis"])
    assert "06_analysis aggregates every replicate: run it without --replicate" in capsys.readouterr().err
    timings = layout.Layout("smoke").result("timings")
    timings.parent.mkdir(parents=True, exist_ok=True)
    timings.write_text("{ not json")
    assert runner._timings(layout.Layout("smoke")) == {"replicates": {}}
    assert f"{timings} is damaged" in capsys.readouterr().err


def test_a_relative_data_folder_is_taken_from_where_the_command_runs(monkeypatch, tmp_path):
    """The notebooks run in notebooks/: a relative IRLKIT_DATA is made absolute against the caller's directory first."""
    from irlkit import runner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IRLKIT_DATA", "mine/data")
    monkeypatch.setattr(runner, "run", lambda *args, **kwargs: None)
    runner.main(["smoke", "--replicate", "0"])
    assert os.environ["IRLKIT_DATA"] == str(tmp_path / "mine" / "data")


def test_values_that_would_fail_late_are_refused_before_any_notebook(data_home, capsys):
    """The seed's range, a device the machine lacks, and settings that name parts of the model, each checked
    against the start model before anything runs: one line naming the setting and what the model has."""
    from irlkit import models, runner

    models.materialise("tiny:0")  # the start model the checks read (a model not on the machine yet is skipped)
    for argv, message in (
            (["--set", "seed=-1"], "seed must be >= 0, got -1"),
            (["--seed", "4294967296"], "seed must be <= 1,048,575"),
            (["--set", "device=cuda"], "this machine has no CUDA device"),
            (["--set", "irl.full_blocks=99"], "irl.full_blocks = 99, but tiny-a has 2 blocks"),
            (["--set", "rlhf.lora_rank=4", "--set", 'rlhf.lora_targets=["q_proj"]', "--set", "eval.path_every=0"],
             r"rlhf.lora_targets names \['q_proj'\], which tiny-a has no linear layer of; its linear layers: dense"),
            (["--set", 'sizes=[{"name": "mine", "start": "tiny:0", "params_m": 1, "aligned": "/no/such/model"}]'],
             r"sizes\[mine\].aligned = '/no/such/model': no model folder there"),
            (["--set", 'sizes=[{"name": "mine", "start": "tiny:0"}]'], r"sizes\[0\] needs params_m")):
        with pytest.raises(SystemExit):
            runner.main(["smoke", "--replicate", "0", *argv])
        err = capsys.readouterr().err
        assert re.search(message, err), (argv, err)
    assert not (data_home / "runs").exists(), "nothing ran"


def test_set_seed_is_the_seed_option(monkeypatch):
    from irlkit import runner

    calls = []
    monkeypatch.setattr(runner, "run", lambda profile, only, parameters, **kw: calls.append(parameters))
    runner.main(["smoke", "--set", "seed=3"])
    runner.main(["smoke", "--seed", "3"])
    assert calls[0] == calls[1] and calls[0]["SEED"] == 3 and "seed" not in calls[0]["OVERRIDES"]


def test_a_killed_kernel_ends_in_one_line_with_the_resume_command(data_home, capsys, monkeypatch):
    import papermill
    from nbclient.exceptions import DeadKernelError

    from irlkit import layout, runner

    where = layout.Layout("smoke", 0)

    def killed(source, output, **kwargs):
        Path(output).write_text("{}")  # what papermill had written when the kernel died
        raise DeadKernelError("Kernel died")

    monkeypatch.setattr(papermill, "execute_notebook", killed)
    monkeypatch.setattr(runner, "fresh_namespace", lambda kernel, log: None)
    monkeypatch.setattr(runner, "_resume", ["python -m irlkit.runner smoke --replicate 0"])
    with pytest.raises(SystemExit):
        runner._execute("01_rlhf", "smoke", where, {}, kernel=object())
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("[failed] notebook 01_rlhf (smoke, replicate 0): its kernel died")
    assert err.endswith("resume with: python -m irlkit.runner smoke --replicate 0")
    assert not (where.notebooks / "01_rlhf.running.ipynb").exists() and (where.notebooks / "01_rlhf.failed.ipynb").exists()


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied", "/data/runs/smoke/r0"),
                                   OSError(30, "Read-only file system", "/data/runs/smoke/r0")])
def test_a_folder_that_cannot_be_written_ends_in_one_line(monkeypatch, capsys, error):
    from irlkit import runner

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(runner, "run", refuse)
    assert runner.main(["smoke"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "/data/runs/smoke/r0" in err and "IRLKIT_DATA" in err


def test_a_lock_in_a_folder_that_cannot_be_written_lets_the_reader_through(tmp_path, monkeypatch):
    """Reading finished stages from a read-only data folder needs no lock: `store.locked` yields without one."""
    from irlkit import store

    def read_only(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    ran = []
    with store.locked(tmp_path / "shared" / ".lock"):
        ran.append(True)
    assert ran == [True] and not (tmp_path / "shared").exists()


def test_a_run_says_where_it_is_with_an_eta_and_ends_saying_where_its_results_are(data_home):
    from irlkit import layout, runner

    timings = {"replicates": {"r0": {"01_rlhf": 400.0, "02_sampling": 6.0, "total": 406.0},
                              "r1": {"01_rlhf": 420.0, "02_sampling": 4.0}}}
    plan = runner.Plan(["01_rlhf", "02_sampling", "01_rlhf"], timings)
    assert re.fullmatch(r"notebook 1 of 3, \d+s so far, ETA 14m \d\ds", plan.next())  # 420 + 6 + 420 s
    assert plan.next().startswith("notebook 2 of 3") and plan.next().endswith("ETA 7m 00s")
    assert "ETA ≥ 7m 00s" in runner.Plan(["01_rlhf", "03_irl"], timings).next()  # 03 never timed
    block = runner.end_block("smoke")
    where = layout.Layout("smoke")
    assert str(where.figures) in block and str(where.runs) in block and "report" in block
