"""Every config under train/configs/ loads, validates, builds its model, meets its privacy
target by the accountant, and runs its pipeline and private steps end to end on a tiny
synthetic dataset of the right shape (so configs whose data is not here still cannot rot); a
streamed data set's config (ImageNet) reads it from synthetic ArrayRecord files."""

import dataclasses
import glob
import os

import pytest

from dpzoo import accounting, data, methods, models, training
from dpzoo.cli.train import load_config
from dpzoo.common.errors import UsageError
from dpzoo.data import record_writer, records
from dpzoo.training import TrainConfig, engines, privacy_plan
from tests.conftest import ROOT

CONFIGS = sorted(
    p
    for p in glob.glob(os.path.join(ROOT, "train", "configs", "**", "*.py"), recursive=True)
    if not os.path.basename(p).startswith("_")
)
CONFIG_IDS = [os.path.relpath(p, ROOT) for p in CONFIGS]
SPREAD_OVER_WORKERS = True  # no shared fixtures; the slowest tests of the suite (conftest.py)


# deeper variants of the same blocks run the same code path end to end (WRN-40-4's two tiny steps
# trace for over two minutes on a 2-core CPU)
SAME_PATH_AS = {
    "wrn40_4": "wrn16_4",
    "wrn28_10": "wrn16_4",
    "keras.applications.ResNet152V2": "keras.applications.ResNet50V2",
}


def _one_per_shape(paths: list[str]) -> list[str]:
    """One config per (model, model kwargs, input shape, classes, augmult, method, engine, fine-tuning or
    not): configs that differ only in budget, schedule or seed train the same graph, so one of them
    covers the others' end-to-end path."""
    seen, chosen = set(), []
    for path in paths:
        c = load_config(path)
        spec = data.SPECS[c.dataset]
        model = SAME_PATH_AS.get(c.model, c.model)
        kwargs = tuple(sorted(c.model_kwargs.items()))
        key = (model, kwargs, spec.input_shape, spec.num_classes, c.augmult, c.method, c.engine, bool(c.init_from))
        if key not in seen:
            seen.add(key)
            chosen.append(path)
    return chosen


END_TO_END = _one_per_shape(CONFIGS)


def test_there_are_configs():
    assert len(CONFIGS) >= 10


def _privacy(config: TrainConfig, n: int) -> tuple[float, int, float]:
    """(noise multiplier, steps, epsilon) of the full run as training.run plans it; a ModelMix run
    states the smaller of ModelMix's and DP-SGD's epsilon."""
    sigma = privacy_plan.resolve_noise(config, n)
    steps = privacy_plan.planned_steps(
        config, n, sigma, accounting.steps_per_epoch(n, config.batch_size, config.sampling)
    )
    run = dict(n=n, batch_size=config.batch_size, delta=config.delta, sampling=config.sampling)
    eps = accounting.epsilon(noise_multiplier=sigma, steps=steps, accountant=config.accountant, **run)
    terms = methods.get(config.method).extra_accountant(config)
    if terms is not None:
        eps = min(
            eps,
            terms.epsilon(n=n, batch_size=config.batch_size, noise_multiplier=sigma, steps=steps, delta=config.delta),
        )
    return sigma, steps, eps


@pytest.mark.parametrize("path", CONFIGS, ids=CONFIG_IDS)
def test_config_loads_and_meets_its_target(path):
    """A private config meets its epsilon; a config without privacy (a prior's pretraining) may
    only train on public data (images drawn from random processes)."""
    config = load_config(path)
    assert isinstance(config, TrainConfig)
    spec = data.SPECS[config.dataset]
    model = models.get(config.model, input_shape=spec.input_shape, num_classes=spec.num_classes, **config.model_kwargs)
    assert model.count_params() > 0
    if not engines.get(config.engine).private:
        assert config.dataset in data.RANDOM_PROCESS_DATASETS and config.target_epsilon is None
        return
    _, steps, eps = _privacy(config, spec.n_train)
    assert steps > 0 and eps <= config.target_epsilon + 1e-3
    with pytest.raises(UsageError):
        dataclasses.replace(config, batch_size=0)


@pytest.mark.parametrize("path", END_TO_END, ids=lambda p: os.path.relpath(p, ROOT))
def test_config_trains_two_steps_on_synthetic_data(path, tmp_path):
    """The config's model, pipeline (augmult K included), engine and accountant, with the noise
    multiplier of the real run, on 4 synthetic examples in batches of 2 (2 Poisson steps); a config
    with a physical batch size runs its steps in chunks of 1 row."""
    config = load_config(path)
    config = dataclasses.replace(config, model=SAME_PATH_AS.get(config.model, config.model))
    if config.init_from:  # the start: the config's model after two steps on public stand-in data of its shape
        config = dataclasses.replace(config, init_from=_stand_in_start(config, tmp_path))
    sigma = privacy_plan.resolve_noise(config, data.SPECS[config.dataset].n_train)
    tiny = dataclasses.replace(
        config,
        batch_size=2,
        physical_batch_size=1 if config.physical_batch_size else None,
        epochs=1,
        noise_multiplier=sigma,
        target_epsilon=None,
        stop_at_epsilon=False,
        max_train_examples=None,
        output_dir=str(tmp_path / "run"),
    )
    if records.is_streamed(config.dataset):  # ArrayRecord files of varying-size JPEGs, read as the real data is
        spec = data.SPECS[config.dataset]
        folder = record_writer.write_synthetic(
            str(tmp_path / "tfds"), config.dataset, 4, 2, image_shape=spec.input_shape, num_classes=spec.num_classes
        )
        card = training.run(dataclasses.replace(tiny, data_dir=folder), verbose=0).card
        assert card["dataset"]["source"].startswith("tfds ArrayRecord")
    else:
        card = training.run(tiny, verbose=0, dataset=data.synthetic(config.dataset, n_train=4, n_test=2)).card
    assert card["privacy"]["steps"] == 2
    assert card["dataset"]["augmult"] == config.augmult
    assert card["results"]["eval_weights"] == config.eval_weights
    assert card["training"]["physical_batch_size"] == tiny.physical_batch_size


def _stand_in_start(config: TrainConfig, tmp_path) -> str:
    """A run folder of ``config.model`` trained two steps without privacy on synthetic images of the
    config's shape under another dataset's name: what the config's init_from points at, in small."""
    stand_in = dataclasses.replace(data.synthetic(config.dataset, n_train=4, n_test=2), name="public_stand_in")
    start = TrainConfig(
        model=config.model,
        model_kwargs=config.model_kwargs,
        dataset=config.dataset,
        engine="nonprivate",
        batch_size=2,
        epochs=1,
        output_dir=str(tmp_path / "start"),
    )
    training.run(start, verbose=0, dataset=stand_in)
    return start.output_dir


def test_non_config_file_is_refused(tmp_path):
    path = tmp_path / "not_a_config.py"
    path.write_text("def get_config():\n    return {'epochs': 3}\n")
    with pytest.raises(UsageError, match="TrainConfig"):
        load_config(str(path))
