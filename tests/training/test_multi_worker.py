"""MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1 (free ports, bounded time).

A noise-free run ends with the single-process weights; the update noise is sigma*C/B once over
both workers (and a variant adding it on every replica is caught); only the chief writes; a
killed worker ends the other with a clear error instead of a hang, and the rerun resumes.
"""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from dpzoo import training
from dpzoo.artifacts import model_card, run_folder
from dpzoo.training import TrainConfig, resume
from tests.conftest import ROOT
from tests.privacy.test_virtual_batches import NOISE_TOLERANCE

WORKERS = 2
LIMIT_S = 240  # a worker still running after this fails its test and is killed


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture
def start_workers():
    """start(args, tmp_path): one process group per worker, each with its TF_CONFIG, output in
    tmp_path/worker<i>.log; every group still alive is killed when the test ends."""
    started: list[subprocess.Popen] = []

    def start(args: list[str], tmp_path) -> list[subprocess.Popen]:
        started.extend(_start(args, tmp_path))
        return started[-WORKERS:]

    yield start
    for worker in started:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _start(args: list[str], tmp_path) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(WORKERS)]}
    workers = []
    for index in range(WORKERS):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        log = open(tmp_path / f"worker{index}.log", "w")
        workers.append(
            subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )
    return workers


def finish(workers: list[subprocess.Popen], tmp_path) -> list[tuple[int, str]]:
    codes = [w.wait(timeout=LIMIT_S) for w in workers]
    return [(code, (tmp_path / f"worker{i}.log").read_text()) for i, code in enumerate(codes)]


# LeNet-5 (tanh, average pooling) is smooth in its weights, so runs that differ only in summation
# order (the all-reduce's, or a step's chunks') stay at rounding level: one pass against 64-row
# chunks, 4e-8 after 16 steps (measured). One example wrong is far above the 1e-5 checked: one
# row of the first of 8 steps replaced by a copy of another moves each weight tensor by 3e-3 to
# 5e-2 of its largest weight. Max pooling's gradient jumps where two inputs of a window nearly tie:
# with the tutorial CNN, one such flip in step 4 turned a 3e-8 difference into 2.7e-5 (4e-4 after
# 8 steps), which made this comparison fail on some CPUs though both runs were right.
MODEL = "lenet5"
TRAIN = [
    "--dataset=fashion_mnist",
    f"--model={MODEL}",
    "--max_train_examples=1000",
    "--batch_size=128",
    "--noise_multiplier=0",
    "--seed=3",
]
SINGLE = TrainConfig(  # TRAIN in one process
    dataset="fashion_mnist", model=MODEL, max_train_examples=1000, batch_size=128, noise_multiplier=0.0, seed=3
)


def test_noise_free_run_ends_with_the_single_process_weights_and_only_the_chief_writes(tmp_path, start_workers):
    out = tmp_path / "run"
    train = [os.path.join(os.path.dirname(sys.executable), "dpzoo-train"), *TRAIN, "--epochs=1"]
    workers = start_workers([*train, "--distribution=multi_worker", f"--output_dir={out}"], tmp_path)
    single = training.run(dataclasses.replace(SINGLE, epochs=1, output_dir=str(tmp_path / "single")), verbose=0)
    (chief_code, chief_log), (other_code, other_log) = finish(workers, tmp_path)
    assert chief_code == 0 and other_code == 0, chief_log[-2000:] + other_log[-2000:]
    assert "Wrote checkpoint" in chief_log and "the chief writes" in other_log
    assert sorted(os.listdir(tmp_path)) == ["run", "single", "worker0.log", "worker1.log"]  # nothing else written
    distributed, card = run_folder.load_run(str(out))
    reference, _ = run_folder.load_run(single.output_dir)
    for a, b in zip(reference.get_weights(), distributed.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())
    assert card["training"]["distribution"] == "multi_worker" and card["training"]["replicas"] == WORKERS
    assert card["privacy"]["steps"] == single.card["privacy"]["steps"]
    assert os.path.isfile(out / model_card.CARD_JSON)


@pytest.mark.parametrize("variant,expected", [("correct", 1.0), ("every_replica", np.sqrt(2))])
def test_update_noise_is_added_once_over_the_workers(tmp_path, start_workers, variant, expected):
    workers = start_workers([sys.executable, "-m", "tests.training.multi_worker_noise", variant], tmp_path)
    for code, log in finish(workers, tmp_path):
        assert code == 0, log[-3000:]
        ratio = float(log.split("noise_ratio=")[1].split()[0])
        assert abs(ratio - expected) < NOISE_TOLERANCE * expected
        assert (abs(ratio - 1) < NOISE_TOLERANCE) == (variant == "correct")  # the check tells them apart


def test_a_killed_worker_ends_the_run_with_an_error_and_the_rerun_resumes(tmp_path, start_workers):
    """A dead worker ends the other within a bounded time (not a hang); rerunning both resumes
    from the chief's last checkpoint (each worker restores it) and ends with the weights of an
    uninterrupted single-process run."""
    out = tmp_path / "run"
    train = [os.path.join(os.path.dirname(sys.executable), "dpzoo-train"), *TRAIN, "--epochs=2", "--learning_rate=0.25"]
    command = [*train, "--distribution=multi_worker", "--checkpoint_every_steps=2", f"--output_dir={out}"]
    workers = start_workers(command, tmp_path)
    checkpoints = os.path.join(resume.staging_dir(str(out)), resume.RESUME)
    deadline = time.monotonic() + LIMIT_S / 2
    while "step-4" not in (os.listdir(checkpoints) if os.path.isdir(checkpoints) else []):  # mid-epoch 1
        assert time.monotonic() < deadline and workers[0].poll() is None, (tmp_path / "worker0.log").read_text()[-2000:]
        time.sleep(0.1)
    killed_at = time.monotonic()
    os.killpg(workers[1].pid, signal.SIGKILL)
    code = workers[0].wait(timeout=LIMIT_S)
    waited = time.monotonic() - killed_at
    log = (tmp_path / "worker0.log").read_text()
    assert code == 1, log[-2000:]
    assert "another worker of this multi-worker run failed" in log and "Traceback" not in log
    assert "run every worker's command again to resume" in log
    assert waited < 120  # TensorFlow's heartbeat: about 10 s here
    assert not out.exists()
    resumed_from = resume.latest_progress(resume.staging_dir(str(out))).step

    for code, log in finish(start_workers(command, tmp_path), tmp_path):
        assert code == 0, log[-3000:]
        assert f"Resuming from step {resumed_from} of" in log
    config = dataclasses.replace(SINGLE, epochs=2, learning_rate=0.25, output_dir=str(tmp_path / "single"))
    single = training.run(config, verbose=0)
    distributed, card = run_folder.load_run(str(out))
    reference, _ = run_folder.load_run(single.output_dir)
    for a, b in zip(reference.get_weights(), distributed.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())
    assert card["training"]["resumed_from_steps"] == [resumed_from]
    assert card["privacy"]["steps"] == single.card["privacy"]["steps"]
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []  # the staging folder became run/
