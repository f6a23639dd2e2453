"""Fine-tuning preparation (dpzoo.finetuning.prepare): a zero head on the kept features, and
exactly the weights each mode names trainable; a private step moves those and nothing else, on a
zoo model and on a keras.applications model (weights=None: nothing downloads)."""

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo import finetuning, models
from dpzoo.common.errors import UsageError
from dpzoo.common.keras_api import KERAS_3, variable_name
from dpzoo.common.stack import keras
from dpzoo.privacy import fix_batch_normalization
from tests.conftest import SPARSE_CE

FINETUNE_HEAD = "finetune_logits/kernel", "finetune_logits/bias"


def _backbone() -> keras.Model:
    """The tutorial CNN with GroupNorm and weight standardisation, as if pretrained on 10 classes."""
    keras.utils.set_random_seed(0)
    return models.get("tutorial_cnn_gnws")


def _short(model: keras.Model) -> set[str]:
    """Trainable variables as 'layer/variable'."""
    return {"/".join(variable_name(v).split("/")[-2:]) for v in model.trainable_variables}


def test_the_new_head_is_zero_and_sees_the_pretrained_features():
    backbone = _backbone()
    prepared = finetuning.prepare(backbone, "head", num_classes=5)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(prepared(x).numpy(), np.zeros((3, 5), np.float32))
    old_head = backbone.layers[-1]
    features = keras.Model(backbone.inputs, old_head.input)
    new_features = keras.Model(prepared.inputs, prepared.get_layer(finetuning.HEAD_NAME).input)
    np.testing.assert_array_equal(new_features(x).numpy(), features(x).numpy())
    assert _short(prepared) == set(FINETUNE_HEAD)


MODES_TRAIN = {  # which of the pretrained model's trainable weights (old head excluded) each mode trains
    "full": lambda name: True,
    "head": lambda name: False,
    "norms": lambda name: "_norm/" in name,  # the GroupNorms' gamma and beta
}


@pytest.mark.parametrize("mode", [m for m in finetuning.MODES if KERAS_3 or m != "lora"])
def test_each_mode_trains_the_weights_it_names(mode):
    backbone = _backbone()
    pretrained = {name for name in _short(backbone) if not name.startswith("tutorial_cnn_gnws_logits/")}
    prepared = finetuning.prepare(backbone, mode, num_classes=5, lora_rank=2)
    assert set(FINETUNE_HEAD) <= _short(prepared)
    trained = _short(prepared) - set(FINETUNE_HEAD)
    if mode == "lora":  # adapters on both convolutions and the hidden Dense; base kernels, biases, norms frozen
        layers = ("conv1", "conv2", "fc1")
        assert trained == {f"tutorial_cnn_gnws_{layer}/lora_kernel_{ab}" for layer in layers for ab in "ab"}
    else:
        assert trained == {name for name in pretrained if MODES_TRAIN[mode](name)}
    assert trained or mode == "head"


@pytest.mark.parametrize("mode", [m for m in finetuning.MODES if KERAS_3 or m != "lora"])
def test_a_start_rebuilt_unfrozen_trains_everything_and_keeps_its_head(mode):
    """``freeze=False`` (a run folder as the start of another run): the mode's layers (LoRA's
    adapters) are built, nothing is frozen; ``new_head=False``: the head starts from the old one's
    weights, under the new head's name."""
    backbone = _backbone()
    pretrained = {name for name in _short(backbone) if not name.startswith("tutorial_cnn_gnws_logits/")}
    prepared = finetuning.prepare(backbone, mode, num_classes=10, lora_rank=2, new_head=False, freeze=False)
    adapters = {name for name in _short(prepared) if "/lora_kernel_" in name}
    assert _short(prepared) == pretrained | set(FINETUNE_HEAD) | adapters
    assert bool(adapters) == (mode == "lora")
    old, new = backbone.get_layer("tutorial_cnn_gnws_logits"), prepared.get_layer(finetuning.HEAD_NAME)
    for kept, start in zip(new.get_weights(), old.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, start)
    with pytest.raises(UsageError, match="gives 10 scores .* not this data's 5"):
        finetuning.prepare(_backbone(), mode, num_classes=5, new_head=False)


@pytest.mark.skipif(not KERAS_3, reason="LoRA (enable_lora) is Keras 3's")
def test_lora_on_a_text_model_adapts_the_embedding_and_dense_layers():
    """The BiLSTM: adapters on its Embedding (lora_embeddings_a/b); its Gaussian LSTMs have no LoRA
    and are frozen, and the new head replaces its only Dense."""
    keras.utils.set_random_seed(0)
    prepared = finetuning.prepare(models.get("bilstm", num_classes=4), "lora", num_classes=2, lora_rank=2)
    adapters = {"bilstm_embedding/lora_embeddings_a", "bilstm_embedding/lora_embeddings_b"}
    assert _short(prepared) == adapters | set(FINETUNE_HEAD)


@pytest.mark.skipif(not KERAS_3, reason="LoRA (enable_lora) is Keras 3's")
def test_lora_starts_as_the_pretrained_model():
    backbone = _backbone()
    x = np.random.default_rng(1).random((3, 28, 28, 1)).astype(np.float32)
    features = keras.Model(backbone.inputs, backbone.layers[-1].input)(x).numpy()
    prepared = finetuning.prepare(backbone, "lora", num_classes=5, lora_rank=2)
    lora_features = keras.Model(prepared.inputs, prepared.get_layer(finetuning.HEAD_NAME).input)(x).numpy()
    np.testing.assert_allclose(lora_features, features, rtol=1e-6, atol=1e-6)


def _application() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10, dropout_rate=0.0)


@pytest.mark.parametrize("mode", [m for m in finetuning.MODES if KERAS_3 or m != "lora"])
def test_a_private_step_of_each_mode_moves_only_its_trainable_weights(fashion, mode):
    """MobileNetV3Small (BatchNorm: frozen by the head and lora modes; rebuilt with GroupNorm for
    full and norms fine-tuning) on Fashion-MNIST images resized to 32x32x3."""
    backbone = fix_batch_normalization(_application()) if mode in ("full", "norms") else _application()
    prepared = finetuning.prepare(backbone, mode, num_classes=10, lora_rank=2)
    trainable = {id(v) for v in prepared.trainable_variables}
    before = {id(v): v.numpy().copy() for v in prepared.weights}
    private = dpzoo.make_private(
        prepared, dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=8, seed=0)
    )
    private.compile(keras.optimizers.SGD(0.5), loss=SPARSE_CE)
    gray = fashion.x_train[:8].reshape(8, 28, 28, 1).astype(np.float32) / 255.0
    x = tf.image.resize(np.repeat(gray, 3, axis=-1), (32, 32))
    private.train_on_batch(x.numpy(), fashion.y_train[:8])
    moved = {id(v) for v in prepared.weights if not np.array_equal(v.numpy(), before[id(v)])}
    moving_statistics = {id(v) for v in prepared.non_trainable_variables if "moving" in variable_name(v)}
    assert moved - moving_statistics == trainable


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: finetuning.prepare(m, "adapters", num_classes=5), "Unknown fine-tuning mode"),
        (lambda m: finetuning.prepare(m, "head", num_classes=1), "num_classes=1 >= 2"),
        (lambda m: finetuning.prepare(m, "lora", num_classes=5, lora_rank=0), "lora_rank=0 >= 1"),
        (lambda m: finetuning.prepare(_application(), "norms", num_classes=5), "no LayerNormalization or Group"),
        (
            lambda m: finetuning.prepare(
                keras.Model(m.inputs, keras.layers.LayerNormalization()(m.outputs[0])), "head", num_classes=5
            ),
            "a LayerNormalization, not a Dense or Conv2D",
        ),
    ],
)
def test_bad_fine_tuning_settings_are_usage_errors(call, message):
    with pytest.raises(UsageError, match=message):
        call(_backbone())
