"""Every config under train/configs/ loads, validates, builds its model and recomputes its privacy."""

import dataclasses
import glob
import os

import pytest

from dpzoo import accounting, models
from dpzoo.errors import UsageError
from dpzoo.train.train import load_config
from dpzoo.train_config import TrainConfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
CONFIGS = sorted(
    p
    for p in glob.glob(os.path.join(ROOT, "train", "configs", "**", "*.py"), recursive=True)
    if not os.path.basename(p).startswith("_")
)


def test_there_are_configs():
    assert len(CONFIGS) >= 4


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_config_loads_builds_and_meets_its_target(path, fashion):
    config = load_config(path)
    assert isinstance(config, TrainConfig)
    model = models.get(config.model, input_shape=fashion.input_shape, num_classes=10, **dict(config.model_kwargs))
    assert model.count_params() > 0
    sigma = accounting.calibrate_noise(
        target_epsilon=config.target_epsilon,
        delta=config.delta,
        n=60_000,
        batch_size=config.batch_size,
        epochs=config.epochs,
        sampling=config.sampling,
        accountant=config.accountant,
    )
    steps = config.epochs * accounting.steps_per_epoch(60_000, config.batch_size, config.sampling)
    eps = accounting.epsilon(
        n=60_000,
        batch_size=config.batch_size,
        noise_multiplier=sigma,
        steps=steps,
        delta=config.delta,
        sampling=config.sampling,
        accountant=config.accountant,
    )
    assert eps <= config.target_epsilon + 1e-3
    with pytest.raises(UsageError):
        dataclasses.replace(config, batch_size=0)


def test_non_config_file_is_refused(tmp_path):
    path = tmp_path / "not_a_config.py"
    path.write_text("def get_config():\n    return {'epochs': 3}\n")
    with pytest.raises(UsageError, match="TrainConfig"):
        load_config(str(path))
