"""Resume after kill -9 (dpzoo.training.resume): dpzoo-train killed twice at random steps and
rerun each time ends with the uninterrupted run's weights (bitwise), steps, epsilon and
validation history, for DP-SGD, De et al. (EMA, augmult 2), ModelMix, SIDP + DP and a
virtual-batch run. A changed config is refused; --overwrite starts afresh."""

import json
import os
import signal
import time

import numpy as np
import pytest

from dpzoo.artifacts import run_folder
from dpzoo.training import resume
from tests.cli.console_runner import FreshProcesses
from tests.conftest import ROOT, fashion_subset_dir

LIMIT_S = 180  # a run still going after this fails its test
COMMON = dict(
    dataset="fashion_mnist",
    batch_size=64,
    epochs=2,
    noise_multiplier=1.0,
    learning_rate=0.5,
    checkpoint_every_steps=2,
    seed=5,
    accountant="rdp",  # a PLD epsilon of this tiny run takes 3 s, an RDP one milliseconds
)
CASES = {
    "dpsgd": {},
    "de22": dict(method="de22", augment=True, augmult=2, eval_weights="ema", model="tutorial_cnn_ws"),
    "modelmix": dict(method="modelmix", clipping_norm="l2+linf", linf_p=100.0, modelmix_tau_ratio=0.03),
    "sidp_dp": dict(method="sidp_dp", model="tutorial_cnn_sidp"),
    "virtual_batches": dict(physical_batch_size=24, lr_schedule="cosine"),  # the schedule resumes too
}
# Bitwise needs TensorFlow's op determinism (on by default, dpzoo.common.determinism). Without it,
# measured here: the virtual-batch run resumed at step 6 computed step 7 differently from the
# uninterrupted run and ended 9.8e-4 away; three de22 runs at once differed in about half the tries.
# With it, a WSConv2D norm that read its gain twice (once for the norm, once for the kept gradient)
# still made de22 runs differ in the first layer's kernel now and then; its processes run with one
# intra-op thread (FreshProcesses), under which that code failed the de22 case in 2 of 2 tries.


def as_flags(fields: dict) -> list[str]:
    return [(f"--{k}" if v else f"--no{k}") if isinstance(v, bool) else f"--{k}={v}" for k, v in fields.items()]


@pytest.fixture(scope="module")
def data_dir(fashion, tmp_path_factory) -> str:
    """768 real training and 1,000 test images: 12 steps an epoch of B = 64."""
    return fashion_subset_dir(tmp_path_factory.mktemp("fashion"), fashion, 768, 1000)


@pytest.fixture(scope="module")
def console():
    """dpzoo-train runs, each a fresh process killed with SIGKILL (not forked: see
    tests.cli.console_runner.FreshProcesses)."""
    runs = FreshProcesses(ROOT, timeout_s=LIMIT_S)
    yield runs
    runs.close()


@pytest.fixture
def train_command(data_dir):
    def command(output_dir, *flags) -> list[str]:
        return [*as_flags(COMMON | {"data_dir": data_dir}), *flags, f"--output_dir={output_dir}"]

    return command


def run_to_end(console, args, tmp_path) -> tuple[int, str]:
    """(exit code, stderr) of a dpzoo-train run with these flags."""
    log = tmp_path / f"run{len(os.listdir(tmp_path))}.log"
    console.start("dpzoo-train", args, log)
    return console.wait(), log.read_text()


def complete_steps(output_dir) -> list[int]:
    folder = os.path.join(resume.staging_dir(str(output_dir)), resume.RESUME)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(int(name[5:]) for name in names if name.startswith("step-"))


def run_and_kill(console, args, output_dir, after_step: int) -> int:
    """Starts the run and kills it (SIGKILL) once a checkpoint at ``after_step`` or later exists,
    that is somewhere in the steps after it; the latest checkpoint's step."""
    pid = console.start("dpzoo-train", args, os.devnull)
    deadline = time.time() + LIMIT_S
    try:
        while not [s for s in complete_steps(output_dir) if s >= after_step]:
            assert time.time() < deadline, "no checkpoint in time"
            time.sleep(0.02)
    finally:
        os.killpg(pid, signal.SIGKILL)
    assert console.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    return complete_steps(output_dir)[-1]


def weights(output_dir) -> list[np.ndarray]:
    model, _ = run_folder.load_run(str(output_dir))
    return [w for w in model.get_weights()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_killed_twice_and_rerun_ends_as_the_uninterrupted_run(case, tmp_path, train_command, console):
    flags = as_flags(CASES[case])
    code, log = run_to_end(console, train_command(tmp_path / "straight", *flags), tmp_path)
    assert code == 0, log[-3000:]
    resumed_dir = tmp_path / "resumed"
    command = train_command(resumed_dir, *flags)
    rng = np.random.default_rng(sorted(CASES).index(case))
    killed_at = [run_and_kill(console, command, resumed_dir, 2 * int(rng.integers(1, 5)))]  # 12 steps an epoch
    killed_at.append(run_and_kill(console, command, resumed_dir, killed_at[0] + 2 * int(rng.integers(2, 5))))
    code, log = run_to_end(console, command, tmp_path)
    assert code == 0, log[-3000:]
    assert f"Resuming from step {killed_at[1]} of" in log

    a = json.loads((tmp_path / "straight" / "model_card.json").read_text())
    b = json.loads((resumed_dir / "model_card.json").read_text())
    assert b["training"]["resumed_from_steps"] == killed_at and a["training"]["resumed_from_steps"] == []
    assert a["training"]["steps"] == b["training"]["steps"] == 24  # each step counted once
    assert a["privacy"] == b["privacy"]
    assert a["results"] == b["results"]
    assert len(a["history"]) == len(b["history"]) == 2
    for x, y in zip(a["history"], b["history"], strict=True):  # validation at the same epoch ends
        assert {k: v for k, v in x.items() if k.startswith("val_") or k == "epsilon"} == {
            k: v for k, v in y.items() if k.startswith("val_") or k == "epsilon"
        }
    for u, v in zip(weights(tmp_path / "straight"), weights(resumed_dir), strict=True):
        np.testing.assert_array_equal(u, v)  # bitwise: the same graphs, batches, views and noise
    assert not os.path.exists(resume.staging_dir(str(resumed_dir)))


def test_a_changed_config_is_refused_and_overwrite_starts_afresh(tmp_path, train_command, console):
    out = tmp_path / "run"
    run_and_kill(console, train_command(out), out, 2)
    code, log = run_to_end(console, train_command(out, "--learning_rate=0.25", "--batch_size=32"), tmp_path)
    assert code == 2, log[-2000:]
    assert "batch_size: 64 -> 32" in log and "learning_rate: 0.5 -> 0.25" in log and "Traceback" not in log
    assert complete_steps(out)  # the interrupted run is still there to resume
    code, log = run_to_end(
        console, train_command(out, "--learning_rate=0.25", "--overwrite", "--max_steps=3"), tmp_path
    )
    assert code == 0, log[-2000:]
    assert not complete_steps(out)
    card = json.loads((out / "model_card.json").read_text())
    assert card["training"]["resumed_from_steps"] == [] and card["training"]["steps"] == 3


def test_a_checkpoint_cut_short_or_damaged_is_never_resumed_from(tmp_path, train_command, console):
    """A write cut short leaves a tmp- folder, never read; a damaged complete checkpoint is refused
    with exit 2, naming it and what to do."""
    out = tmp_path / "run"
    last = run_and_kill(console, train_command(out), out, 4)
    staging = resume.staging_dir(str(out))
    partial = os.path.join(staging, resume.RESUME, f"tmp-{last + 2}")  # as a write cut short leaves it
    os.makedirs(partial, exist_ok=True)  # the kill itself may have cut this very write short
    with open(os.path.join(partial, resume.PROGRESS), "w") as f:
        f.write('{"step": ')
    assert resume.latest_progress(staging).step == last
    state = os.path.join(staging, resume.RESUME, f"step-{last}", resume.STATE + ".data-00000-of-00001")
    with open(state, "r+b") as f:
        body = bytearray(f.read())
        body[len(body) // 2] ^= 0xFF
        f.seek(0)
        f.write(body)
    code, log = run_to_end(console, train_command(out), tmp_path)
    assert code == 2 and "Traceback" not in log, log[-2000:]
    assert f"The resume checkpoint {os.path.dirname(state)} is damaged" in log and "--overwrite" in log
