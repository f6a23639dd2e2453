"""Engines are registered plug-ins: the config refuses exactly what an engine says it cannot do,
the trainer and the config ask the engine instead of comparing its name, and an unknown engine
is refused with the list of known ones."""

import pathlib
import re

import pytest

from dpzoo.common.errors import UsageError
from dpzoo.training import TrainConfig, engines

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOISE = {"noise_multiplier": 1.0}


def _config(engine: str, **fields) -> TrainConfig:
    private = engines.get(engine).private
    return TrainConfig(engine=engine, **(NOISE if private else {}), **fields)


# what a setting needs of the engine: (capability, fields that need it)
NEEDS = [
    ("chunks_and_distributes", {"physical_batch_size": 32}),
    ("chunks_and_distributes", {"distribution": "mirrored"}),
    ("averages_views", {"augment": True, "augmult": 2}),
    ("averages_views", {"mirror_views": True}),
    ("refined_clipping", {"clipping_norm": "l2+linf", "linf_p": 100.0}),
    ("resumable", {"checkpoint_every_steps": 5}),
]


@pytest.mark.parametrize("engine", engines.names())
@pytest.mark.parametrize("capability, fields", NEEDS, ids=[f"{c}-{'-'.join(f)}" for c, f in NEEDS])
def test_the_config_refuses_what_the_engine_says_it_cannot_do(engine, capability, fields):
    if getattr(engines.get(engine), capability):
        assert _config(engine, **fields).engine == engine
    else:
        with pytest.raises(UsageError, match="engine='dpzoo'"):
            _config(engine, **fields)


def test_a_non_private_engine_needs_no_noise_and_has_no_epsilon_settings():
    for name in engines.names():
        engine = engines.get(name)
        if engine.private:
            with pytest.raises(UsageError, match="Expected exactly one of noise_multiplier or target_epsilon"):
                TrainConfig(engine=name)
        else:
            assert TrainConfig(engine=name).engine == name
            with pytest.raises(UsageError, match="stop_at_epsilon needs a private engine"):
                TrainConfig(engine=name, stop_at_epsilon=True, target_epsilon=3.0)


def test_each_engine_states_its_sampling_resume_and_scale_in_the_help():
    for name in engines.names():
        line = engines.get(name).describe()
        assert line.startswith(name) and ("resumes" in line or "does not resume" in line)
    assert engines.get("nonprivate").sampling(TrainConfig(engine="nonprivate", sampling="poisson")) == "shuffle"
    assert engines.get("dpzoo").sampling(TrainConfig(noise_multiplier=1.0, sampling="shuffle")) == "shuffle"


def test_an_unknown_engine_is_refused_with_the_known_ones():
    with pytest.raises(UsageError, match="Expected engine='opacus' to be one of 'dpzoo', 'tf_privacy', 'nonprivate'"):
        TrainConfig(engine="opacus", noise_multiplier=1.0)


ENGINE_COMPARISON = re.compile(r"engine\s*[!=]=|[!=]=\s*\"(?:dpzoo|tf_privacy|nonprivate)\"")


@pytest.mark.parametrize("module", ["trainer.py", "run_plan.py", "train_config.py", "privacy_plan.py"])
def test_the_trainer_knows_no_engine_by_name(module):
    assert ENGINE_COMPARISON.findall((ROOT / "dpzoo" / "training" / module).read_text()) == []
    # the lines the plug-ins replaced are caught
    assert ENGINE_COMPARISON.search('resumable = config.engine != "tf_privacy"')
    assert ENGINE_COMPARISON.search('if self.engine == "nonprivate":')


def test_adaptive_clipping_needs_an_engine_that_adapts_the_clip():
    for name in engines.names():
        engine = engines.get(name)
        if engine.adaptive_clipping:
            assert _config(name, adaptive_clip_quantile=0.5).count_stddev == 256 / 20
        elif engine.private:
            with pytest.raises(UsageError, match="adaptive_clip_quantile needs engine='tf_privacy'"):
                _config(name, adaptive_clip_quantile=0.5)
    with pytest.raises(UsageError, match="adaptive_clip_quantile"):
        _config("tf_privacy", adaptive_clip_quantile=1.5)
