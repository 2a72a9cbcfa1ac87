"""The trainers' own scale-out path works, not only in principle: the full-mode reward trainer and one
RLOO run under `accelerate launch` with two processes on this CPU (scripts/scale_out.py)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_reward_trainer_and_rloo_run_in_two_processes(tmp_path, data_home):
    accelerate = Path(sys.executable).parent / "accelerate"
    if not accelerate.exists():
        accelerate = Path(shutil.which("accelerate"))
    # accelerate's multi-process launcher is torchrun; without a GPU its processes talk over gloo
    run = subprocess.run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                          "--mixed_precision", "no", "--dynamo_backend", "no",
                          str(ROOT / "scripts" / "scale_out.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["rank"] for r in ranks] == [0, 1]
    assert ranks[0]["rloo_steps"] == ranks[1]["rloo_steps"] == 2
    assert ranks[0]["reward_model_weights"] == ranks[1]["reward_model_weights"], "DDP keeps the replicas in step"
    log = (tmp_path / "rloo" / "log.jsonl").read_text().splitlines()
    assert (tmp_path / "rloo" / "model.safetensors").exists() and len(log) == 3, "one log, written by rank 0"
