"""Broken inputs through the console scripts: damaged data files, configs, checkpoints and cards,
and output folders that cannot be written each end with exit code 2 and one line naming the file
and what to do: no traceback, and nothing half-written left behind."""

import dataclasses
import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest

from dpzoo import training
from dpzoo.artifacts import model_card, run_folder
from dpzoo.data import record_writer
from dpzoo.training import TrainConfig, resume
from tests.conftest import ROOT, fashion_subset_dir

TRAIN = ["--batch_size=64", "--noise_multiplier=1", "--max_steps=2", "--checkpoint_every_steps=0"]
IMAGES = "train-images-idx3-ubyte.gz"


@pytest.fixture(scope="module")
def data_dir(fashion, tmp_path_factory) -> str:
    return fashion_subset_dir(tmp_path_factory.mktemp("fashion"), fashion, 256, 200)


@pytest.fixture(scope="module")
def record_dir(fashion, tmp_path_factory) -> str:
    """Fashion-MNIST examples as a tfds ArrayRecord data set (the streamed input)."""
    subset = {
        "train": (fashion.x_train[:4000], fashion.y_train[:4000]),
        "test": (fashion.x_test[:200], fashion.y_test[:200]),
    }
    return record_writer.write_arrays(str(tmp_path_factory.mktemp("tfds")), "fashion_mnist", subset)


def _records_with(record_dir: str, folder, change) -> str:
    shutil.copytree(record_dir, folder)
    change(str(folder))
    return str(folder)


# MobileNetV3Small takes 32x32 images at least; Fashion-MNIST's are 28x28 and need --adapt_inputs
APPLICATION_START = (
    "--init_from=keras.applications.MobileNetV3Small",
    "--model=keras.applications.MobileNetV3Small",
    "--init_weights=none",
    "--finetune=head",
)


def _train_file(folder: str) -> str:
    return next(os.path.join(folder, n) for n in os.listdir(folder) if "-train.array_record" in n)


def _cut_records(folder: str) -> None:
    path = _train_file(folder)
    os.truncate(path, os.path.getsize(path) // 2)


def _damage_middle(folder: str) -> None:
    path = _train_file(folder)
    with open(path, "r+b") as f:
        body = bytearray(f.read())
        for i in range(len(body) // 3, len(body) // 2, 101):
            body[i] ^= 0xFF
        f.seek(0)
        f.write(body)


def _break_info(folder: str) -> None:
    with open(os.path.join(folder, "dataset_info.json"), "w") as f:
        f.write("{")


@pytest.fixture(scope="module")
def finished_run(data_dir, tmp_path_factory) -> str:
    config = TrainConfig(data_dir=data_dir, batch_size=64, noise_multiplier=1.0, max_steps=2)
    out = tmp_path_factory.mktemp("runs") / "run"
    return training.run(dataclasses.replace(config, output_dir=str(out)), verbose=0).output_dir


def _data_dir_with(data_dir: str, folder, images_name: str, content: bytes) -> str:
    shutil.copytree(data_dir, folder)
    os.remove(os.path.join(folder, IMAGES))
    with open(os.path.join(folder, images_name), "wb") as f:
        f.write(content)
    return str(folder)


def _run_copy(finished_run: str, folder, change) -> str:
    shutil.copytree(finished_run, folder)
    change(str(folder))
    return str(folder)


def _flip_bytes(run_dir: str) -> None:
    data = os.path.join(run_dir, run_folder.CHECKPOINT + ".data-00000-of-00001")
    with open(data, "r+b") as f:
        body = bytearray(f.read())
        for i in range(0, len(body), 97):
            body[i] ^= 0xFF
        f.seek(0)
        f.write(body)


def _drop_card_field(run_dir: str) -> None:
    card = model_card.read(run_dir)
    del card["dataset"]["input_shape"]
    with open(os.path.join(run_dir, model_card.CARD_JSON), "w") as f:
        json.dump(card, f)


def _cases(tmp, data_dir: str, finished_run: str, record_dir: str) -> list[dict]:
    with open(os.path.join(data_dir, IMAGES), "rb") as f:
        images = f.read()
    body = gzip.decompress(images)
    configs = {
        "syntax": "def get_config(:\n",
        "raises": "def get_config():\n    raise RuntimeError('no such experiment')\n",
        "missing": "CONFIG = 1\n",
        "wrong_type": "def get_config():\n    return {'epochs': 3}\n",
    }
    for name, text in configs.items():
        (tmp / f"{name}.py").write_text(text)
    blocker = tmp / "a_file"
    blocker.write_text("not a folder")
    (tmp / "a_file.keras").write_text("not a Keras file")
    (tmp / "a_file.weights.h5").write_text("not a weights file")
    train = lambda *args: ["--data_dir=" + data_dir, *TRAIN, *args]
    out = f"--output_dir={tmp}/out"

    def dirs(name, images_name, content):
        return "--data_dir=" + _data_dir_with(data_dir, tmp / name, images_name, content)

    streamed = lambda name, change: [
        "--dataset=tfds:fashion_mnist",
        "--data_dir=" + _records_with(record_dir, tmp / name, change),
        *TRAIN,
        out,
    ]
    cases = [
        (
            "no such tfds data set",
            "dpzoo-train",
            ["--dataset=tfds:nothing", f"--data_dir={tmp}", *TRAIN, out],
            "No prepared tfds data set",
        ),
        (
            "ArrayRecord file cut short",
            "dpzoo-train",
            streamed("records_cut", _cut_records),
            "its records cannot be read",
        ),
        (
            "ArrayRecord file damaged inside",
            "dpzoo-train",
            streamed("records_damaged", _damage_middle),
            "cannot be read",
        ),
        ("dataset_info.json damaged", "dpzoo-train", streamed("info", _break_info), "not a readable tfds data set"),
        ("gzip cut short", "dpzoo-train", [dirs("cut", IMAGES, images[: len(images) // 2]), *TRAIN, out], "truncated"),
        (
            "IDX shorter than its header",
            "dpzoo-train",
            [dirs("short", IMAGES, gzip.compress(body[: len(body) // 2])), *TRAIN, out],
            "is truncated",
        ),
        ("empty IDX", "dpzoo-train", [dirs("empty", "train-images-idx3-ubyte", b""), *TRAIN, out], "bad magic"),
        (
            "wrong magic",
            "dpzoo-train",
            [dirs("magic", IMAGES, gzip.compress(b"\x00\x00\x0d\x03" + body[4:])), *TRAIN, out],
            "bad magic",
        ),
        ("config syntax error", "dpzoo-train", train(f"--config={tmp}/syntax.py", out), "syntax error at line 1"),
        ("config raises", "dpzoo-train", train(f"--config={tmp}/raises.py", out), "RuntimeError: no such experiment"),
        ("config without get_config", "dpzoo-train", train(f"--config={tmp}/missing.py", out), "defines no get_config"),
        ("config of the wrong type", "dpzoo-train", train(f"--config={tmp}/wrong_type.py", out), "not dict"),
        (
            "checkpoint with flipped bytes",
            "dpzoo-export",
            [f"--run_dir={_run_copy(finished_run, tmp / 'flipped', _flip_bytes)}", f"--export_dir={tmp}/e1"],
            "is damaged",
        ),
        (
            "checkpoint without its index",
            "dpzoo-export",
            [
                "--run_dir="
                + _run_copy(finished_run, tmp / "noindex", lambda d: os.remove(f"{d}/{run_folder.CHECKPOINT}.index")),
                f"--export_dir={tmp}/e2",
            ],
            "has no checkpoint",
        ),
        (
            "card with a missing field",
            "dpzoo-export",
            [f"--run_dir={_run_copy(finished_run, tmp / 'nocard', _drop_card_field)}", f"--export_dir={tmp}/e3"],
            "lacks the fields dataset.input_shape",
        ),
        (
            "init_from names nothing",
            "dpzoo-train",
            train(out, f"--init_from={tmp}/nowhere"),
            "neither a run folder, a zoo checkpoint",
        ),
        (  # a zoo checkpoint by name: all of them saw Fashion-MNIST
            "init_from a zoo checkpoint of this data",
            "dpzoo-train",
            train(out, "--init_from=tutorial_cnn.fmnist_eps3_dpsgd"),
            "was trained on fashion_mnist, this run's dataset",
        ),
        (
            "init_from a keras-hub preset that is not there",
            "dpzoo-train",
            train(
                out,
                f"--init_from=keras_hub:{tmp}/nowhere",
                f"--model=keras_hub:{tmp}/nowhere",
                "--init_data=imagenet2012",
            ),
            "keras-hub cannot load this preset",
        ),
        (
            "init_from a run on this run's data",
            "dpzoo-train",
            train(out, f"--init_from={finished_run}", "--finetune=head"),
            "this run's dataset: its privacy guarantee must be composed",
        ),
        (
            "init_from an unknown keras.applications model",
            "dpzoo-train",
            train(out, "--init_from=keras.applications.Nope", "--model=keras.applications.Nope", "--init_weights=none"),
            "Unknown model 'keras.applications.Nope'",
        ),
        (
            "init_from a Keras file that names no data",
            "dpzoo-train",
            train(out, f"--init_from={tmp}/mine.keras", "--finetune=head"),
            "pass --init_data=NAME",
        ),
        (
            "init_from a Keras file that is not one",
            "dpzoo-train",
            train(out, f"--init_from={blocker}.keras", "--init_data=mnist", "--finetune=head"),
            "cannot be read as a Keras model",
        ),
        (
            "init_from a weights file that names no data",
            "dpzoo-train",
            train(out, f"--init_from={tmp}/mine.weights.h5", "--finetune=head"),
            "a weights file does not record what data",
        ),
        (
            "init_from a weights file that is not one",
            "dpzoo-train",
            train(out, f"--init_from={blocker}.weights.h5", "--init_data=mnist", "--finetune=head"),
            "does not fit --model=",
        ),
        (
            "adapt_inputs not a shape",
            "dpzoo-train",
            train(out, f"--init_from={finished_run}", "--adapt_inputs=32x32"),
            "expected HEIGHTxWIDTHxCHANNELS",
        ),
        (
            "a keras.applications start too small for its images",
            "dpzoo-train",
            train(out, *APPLICATION_START),
            "pass --adapt_inputs=HEIGHTxWIDTHx3",
        ),
        ("output_dir is a file", "dpzoo-train", train(f"--output_dir={blocker}"), "is not a folder"),
        ("output_dir inside a file", "dpzoo-train", train(f"--output_dir={blocker}/run"), "Not a directory"),
        (
            "output_dir on a full disk",
            "dpzoo-train",
            train(f"--output_dir={tmp}/full"),
            "Cannot write the run's output",
        ),
        (
            "TF Privacy not installed",
            "dpzoo-train",
            train(out, "--engine=tf_privacy"),
            "install it with: pip install --no-deps --ignore-requires-python tensorflow-privacy==0.9.0",
        ),
    ]
    return [
        {
            "name": name,
            "tool": tool,
            "args": args,
            "expect": expect,
            "file_size_limit": 4096 if "full" in name else None,
            "hidden_modules": ["tensorflow_privacy"] if "TF Privacy" in name else [],
        }
        for name, tool, args, expect in cases
    ]


def test_every_broken_input_exits_2_with_one_line(tmp_path, data_dir, finished_run, record_dir):
    cases = _cases(tmp_path, data_dir, finished_run, record_dir)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.cli.console_runner",
            str(tmp_path / "cases.json"),
            str(tmp_path / "results.json"),
        ],
        cwd=ROOT,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"},
        check=True,
        timeout=600,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    for case, result in zip(cases, results, strict=True):
        errors = [line for line in result["stderr"].splitlines() if f"{case['tool']}: error: " in line]
        assert result["code"] == 2, (case["name"], result["stderr"][-2000:])
        assert "Traceback" not in result["stderr"], (case["name"], result["stderr"][-2000:])
        assert len(errors) == 1 and case["expect"] in errors[0], (case["name"], errors)
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".") or n in ("out", "full", "e1", "e2", "e3")]
    assert leftovers == []  # no staging folder, no half-written output
    assert not os.path.exists(os.path.join(tmp_path, "a_file", "run"))
    assert not resume.has_checkpoint(resume.staging_dir(str(tmp_path / "full")))


@pytest.mark.parametrize(
    "engine, memory_mb, allocation",
    [
        # both: the batch's activations (TF Privacy's queries aggregate the per-example norms dpzoo computes)
        ("tf_privacy", 100, "OOM when allocating tensor with shape[3000,"),
        ("dpzoo", 100, "OOM when allocating tensor with shape[3000,"),
    ],
)
def test_running_out_of_memory_exits_2_with_one_line(fashion, tmp_path, engine, memory_mb, allocation):
    """TensorFlow's own allocator capped (its BFC allocator on the CPU, at memory_mb): the step's
    allocation fails as it does on a machine short of memory, with no traceback and nothing
    left behind."""
    data_dir = fashion_subset_dir(tmp_path / "data", fashion, 4000, 200)
    env = os.environ | {
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_CPU_ALLOCATOR_USE_BFC": "true",
        "TF_CPU_BFC_MEM_LIMIT_IN_MB": str(memory_mb),
    }
    run = subprocess.run(
        [sys.executable, "-m", "dpzoo.cli.train", f"--data_dir={data_dir}", "--model=tutorial_cnn_ws",
         "--batch_size=3000", f"--engine={engine}", *TRAIN[1:], f"--output_dir={tmp_path / 'run'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    errors = [line for line in run.stderr.splitlines() if ": error: " in line]
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert len(errors) == 1 and f"out of memory ({allocation}" in errors[0], errors
    assert "--physical_batch_size" in errors[0] and "--batch_size" in errors[0]
    assert sorted(os.listdir(tmp_path)) == ["data"]  # no run folder, no staging folder
