"""irlkit.parallel: jobs in their own processes, one torch thread each, errors named."""
import functools
import os

import pytest

from irlkit import parallel


def _record(folder, name):
    import torch

    (folder / name).write_text(f"{os.getpid()} {torch.get_num_threads()}")


def _fail():
    raise ValueError("no such reward")


def test_two_workers_run_every_job_in_other_processes_with_their_share_of_threads(tmp_path):
    jobs = [(name, functools.partial(_record, tmp_path, name)) for name in ("a", "b", "c")]
    seconds = parallel.run(jobs, workers=2, threads=2)
    assert list(seconds) == ["a", "b", "c"] and all(s >= 0 for s in seconds.values())
    pids, threads = zip(*((int(p), int(t)) for p, t in ((tmp_path / n).read_text().split() for n in "abc")))
    assert os.getpid() not in pids and len(set(pids)) <= 2
    assert set(threads) == {1}


def _stamp(folder, name, sleep=0.0):
    import time

    begin = time.time()
    time.sleep(sleep)
    (folder / name).write_text(f"{begin} {time.time()}")


def test_a_job_waits_for_the_job_it_follows_while_the_free_worker_takes_the_next(tmp_path):
    jobs = [("train", functools.partial(_stamp, tmp_path, "train", 2.0)),
            ("evaluate", functools.partial(_stamp, tmp_path, "evaluate")),
            ("other", functools.partial(_stamp, tmp_path, "other"))]
    seconds = parallel.run(jobs, workers=2, threads=2, after={"evaluate": "train"})
    assert list(seconds) == ["train", "evaluate", "other"]
    (train_begin, train_end), (evaluate_begin, _), (other_begin, _) = (
        map(float, (tmp_path / n).read_text().split()) for n in ("train", "evaluate", "other"))
    assert evaluate_begin >= train_end  # listed before "other", yet it waits for "train"
    assert other_begin < train_end      # meanwhile the second worker ran the next job that could start


def test_waiting_for_a_later_or_unknown_job_is_an_error(tmp_path):
    jobs = [(n, functools.partial(_record, tmp_path, n)) for n in ("a", "b")]
    for after in ({"a": "b"}, {"b": "nope"}, {"nope": "a"}):
        with pytest.raises(ValueError, match="which is not an earlier job"):
            parallel.run(jobs, workers=2, threads=2, after=after)
    assert not list(tmp_path.iterdir())  # checked before anything runs


def test_one_worker_runs_the_jobs_here_in_order(tmp_path):
    parallel.run([(n, functools.partial(_record, tmp_path, n)) for n in ("a", "b")], workers=1, threads=2)
    assert {int((tmp_path / n).read_text().split()[0]) for n in "ab"} == {os.getpid()}


def test_a_failing_job_is_named_in_the_error(tmp_path):
    jobs = [("fine", functools.partial(_record, tmp_path, "fine")), ("broken reward", _fail)]
    with pytest.raises(RuntimeError, match="'broken reward' failed: ValueError: no such reward"):
        parallel.run(jobs, workers=2, threads=2)


def _killed():
    import signal

    os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does to a worker


def test_a_worker_killed_mid_job_stops_the_run_instead_of_leaving_it_waiting(tmp_path):
    jobs = [("fine", functools.partial(_record, tmp_path, "fine")), ("eats all memory", _killed)]
    with pytest.raises(parallel.WorkerDied, match="exit code -9 .*out-of-memory.* while eats all memory ran"):
        parallel.run(jobs, workers=2, threads=2)
    again = [(name, functools.partial(_record, tmp_path, name)) for name in ("next", "and next")]
    assert set(parallel.run(again, workers=2, threads=2)) == {"next", "and next"}, "a fresh pool runs the next call"


def test_with_one_worker_stage_functions_get_the_callers_context(data_home):
    from irlkit import config, stages

    ctx = stages.Context(config.load("smoke", workers=1))
    seen = []
    stages.in_parallel(ctx, [("only job", lambda c, x: seen.append((c, x)), 7)])
    assert seen == [(ctx, 7)]


def _record_and_report(folder, name):
    import time

    from irlkit import progress

    time.sleep(0.5)  # long enough that both workers take a job
    progress.line(name)
    (folder / name).write_text(str(os.getpid()))


def test_a_second_call_reuses_the_workers_and_reports_progress_where_the_caller_points_now(tmp_path, monkeypatch):
    from irlkit import progress

    for call in ("first", "second"):
        monkeypatch.setenv(progress.ENV, str(tmp_path / f"{call}.progress"))
        parallel.run([(f"{call}{i}", functools.partial(_record_and_report, tmp_path, f"{call}{i}")) for i in range(2)],
                     workers=2, threads=2)
    pids = {call: {int((tmp_path / f"{call}{i}").read_text()) for i in range(2)} for call in ("first", "second")}
    assert len(pids["first"]) == 2 and pids["second"] <= pids["first"]  # the same two processes
    for call in ("first", "second"):
        assert sorted((tmp_path / f"{call}.progress").read_text().split()) == [f"{call}0", f"{call}1"]
