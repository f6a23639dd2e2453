"""TF Privacy's Keras names on dpzoo's engine: code moves over by changing its imports.

The tutorial (examples/tf_privacy_tutorial.py) runs as written on tf-keras with TF Privacy, and
with its two TF Privacy imports naming dpzoo on Keras 3, printing the same privacy statement;
each constructor's step at sigma 0 is dpzoo's step; a plain model compiled with a DP optimizer
is refused instead of trained without privacy.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo.common.errors import UsageError
from dpzoo.privacy import tf_privacy_compat
from tests.conftest import ROOT, SPARSE_CE, digits_batch, tiny_cnn

TUTORIAL = os.path.join(ROOT, "examples", "tf_privacy_tutorial.py")
TF_PRIVACY_IMPORT = re.compile(r"^from tensorflow_privacy\.[\w.]+ import ", re.M)


def port(source: str) -> str:
    """The move: every import from TF Privacy imports the same name from dpzoo."""
    return TF_PRIVACY_IMPORT.sub("from dpzoo.privacy.tf_privacy_compat import ", source)


def _run(script: str, keras: str) -> str:
    env = os.environ | {"DPZOO_KERAS": keras, "EXAMPLES": "4000", "EPOCHS": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
    if keras == "2":
        env["TF_USE_LEGACY_KERAS"] = "1"  # TF Privacy's import reads tf.keras before dpzoo does
    run = subprocess.run(
        [sys.executable, script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_the_tutorial_moves_to_keras_3_by_its_imports(tmp_path):
    source = open(TUTORIAL).read()
    ported = port(source)
    changed = [(a, b) for a, b in zip(source.splitlines(), ported.splitlines(), strict=True) if a != b]
    assert len(changed) == 2 and all(b.startswith("from dpzoo.privacy.tf_privacy_compat import") for _, b in changed)
    ported_path = tmp_path / "tutorial_on_keras3.py"
    ported_path.write_text(ported)
    original, moved = _run(TUTORIAL, "2"), _run(str(ported_path), "3")
    statement = original[original.index("DP-SGD performed") :]
    assert moved[moved.index("DP-SGD performed") :] == statement
    assert "Epsilon assuming Poisson sampling" in statement
    for output in (original, moved):  # 32 steps of B = 250 at sigma 1.1: far above chance (10%)
        assert float(re.search(r"Test accuracy: ([\d.]+)", output).group(1)) > 0.4


def _one_step(make_private, compile_kwargs, digits) -> list[np.ndarray]:
    x, y = digits_batch(digits, 16)
    model = tiny_cnn()
    private = make_private(model)
    private.compile(loss=SPARSE_CE, **compile_kwargs)
    private.train_on_batch(x, y)
    return [v.numpy() for v in model.trainable_variables]


def test_each_constructor_takes_dpzoos_step_at_sigma_0(digits):
    settings = dict(l2_norm_clip=1.0, noise_multiplier=0.0, num_microbatches=16)
    want = _one_step(
        lambda m: dpzoo.make_private(m, dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=16)),
        dict(optimizer=tf.keras.optimizers.SGD(0.5)),
        digits,
    )
    by_optimizer = _one_step(
        tf_privacy_compat.make_private,
        dict(optimizer=tf_privacy_compat.DPKerasSGDOptimizer(learning_rate=0.5, **settings)),
        digits,
    )
    by_model = _one_step(
        lambda m: tf_privacy_compat.DPModel(**settings, use_xla=False, inputs=m.inputs, outputs=m.outputs),
        dict(optimizer=tf.keras.optimizers.SGD(0.5)),
        digits,
    )
    before = [v.numpy() for v in tiny_cnn().trainable_variables]
    for w, a, b, b0 in zip(want, by_optimizer, by_model, before, strict=True):
        assert np.abs(w - b0).max() > 0
        np.testing.assert_allclose(a, w, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(b, w, rtol=1e-5, atol=1e-7)


def test_a_plain_model_with_a_dp_optimizer_is_refused_not_trained(digits):
    x, y = digits_batch(digits, 16)
    model = tiny_cnn()
    before = [v.numpy().copy() for v in model.trainable_variables]
    optimizer = tf_privacy_compat.DPKerasAdamOptimizer(l2_norm_clip=1.0, noise_multiplier=1.0, num_microbatches=16)
    model.compile(optimizer=optimizer, loss=SPARSE_CE)
    # a UsageError; tf-keras's autograph re-raises it, message and all, as its StagingError
    with pytest.raises(Exception, match="Wrap the model first") as refused:
        model.train_on_batch(x, y)
    assert type(refused.value).__name__ in ("UsageError", "StagingError")
    for b, v in zip(before, model.trainable_variables, strict=True):
        np.testing.assert_array_equal(b, v.numpy())


def test_settings_dpzoo_cannot_honour_are_refused():
    with pytest.raises(UsageError, match="num_microbatches=<batch size>"):
        tf_privacy_compat.DPKerasSGDOptimizer(l2_norm_clip=1.0, noise_multiplier=1.0)
    with pytest.raises(UsageError, match="layer_registry"):
        tf_privacy_compat.DPSequential(
            1.0, 1.0, 16, layer_registry={}, layers=[tf.keras.Input((3,)), tf.keras.layers.Dense(2)]
        )
    private = tf_privacy_compat.make_private(tiny_cnn())
    with pytest.raises(UsageError, match="takes its DP settings from a DP optimizer"):
        private.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss=SPARSE_CE)
