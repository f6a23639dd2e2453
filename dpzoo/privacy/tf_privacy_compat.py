"""TF Privacy's Keras names on dpzoo's engine, for Keras 3 (and Keras 2): code written for TF
Privacy moves over by changing its imports.

TF Privacy's Keras optimizers need ``keras.optimizers.legacy`` and its DPModel reads Keras 2's
``_user_losses``, so neither runs on Keras 3. Here the same constructors run dpzoo's DP-SGD step
(``PrivateModel``: per-example gradients clipped to C, the sum noised once by N(0, sigma^2 C^2),
divided by ``num_microbatches``):

- ``DPSequential`` and ``DPModel`` take TF Privacy's ``l2_norm_clip``, ``noise_multiplier``,
  ``num_microbatches``, ``use_xla`` and ``layer_registry``, and a Sequential's layers or a
  Functional model's inputs and outputs; compile them with any Keras optimizer.
- ``DPKerasSGDOptimizer``, ``DPKerasAdamOptimizer`` and ``DPKerasAdagradOptimizer`` take TF
  Privacy's arguments beside the Keras optimizer's. On Keras 3 an optimizer only ever sees the
  batch's mean gradient, so it cannot make a plain model private as TF Privacy's did on Keras 2:
  wrap the model once, ``model = make_private(model)``, and its step takes the DP settings from
  the optimizer. A plain model compiled with one is refused at its first step, never trained
  without privacy.
- ``compute_dp_sgd_privacy_statement`` is TF Privacy's own.

dpzoo clips every example on its own: ``num_microbatches`` must be the batch size (TF Privacy's
tutorials set it so), and the noisy sum is divided by it. ``layer_registry`` (TF Privacy's
fast-clipping registry) is refused: dpzoo's ghost clipping has its own (``clipping.norms``).
"""

from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.common.tf_privacy import tf_privacy_module
from dpzoo.privacy.dp_config import DPConfig
from dpzoo.privacy.private_model import PrivateModel
from dpzoo.privacy.private_model import make_private as _make_private

__all__ = [
    "DPKerasAdagradOptimizer",
    "DPKerasAdamOptimizer",
    "DPKerasSGDOptimizer",
    "DPModel",
    "DPSequential",
    "compute_dp_sgd_privacy_statement",
    "make_private",
]


def _dp_config(l2_norm_clip: float, noise_multiplier: float, num_microbatches: int | None) -> DPConfig:
    if num_microbatches is None:
        raise UsageError(
            "num_microbatches=None divides TF Privacy's noisy sum by each batch's rows; dpzoo divides it by the "
            "(expected) batch size: pass num_microbatches=<batch size>. dpzoo clips every example on its own."
        )
    return DPConfig(l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier, expected_batch_size=num_microbatches)


def _refuse_layer_registry(layer_registry) -> None:
    if layer_registry is not None:
        raise UsageError(
            "layer_registry is TF Privacy's fast-clipping registry; dpzoo's ghost clipping has its own "
            "(dpzoo.privacy.clipping.norms, make_private(..., norm_functions=...)): pass layer_registry=None."
        )


class _DPOptimizer:
    """TF Privacy's constructor arguments before a Keras optimizer's own."""

    def __init__(self, l2_norm_clip: float, noise_multiplier: float, num_microbatches: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.dp_config = _dp_config(l2_norm_clip, noise_multiplier, num_microbatches)
        self.applies_private_gradients = False  # set by a PrivateModel that takes its settings

    def apply_gradients(self, grads_and_vars, *args, **kwargs):
        if not self.applies_private_gradients:
            raise UsageError(
                f"{type(self).__name__} was given a batch's mean gradient by a plain Keras model: Keras 3 optimizers "
                "never see per-example gradients. Wrap the model first, model = dpzoo.privacy.tf_privacy_compat"
                ".make_private(model), then compile it with this optimizer (or build it as DPSequential / DPModel)."
            )
        return super().apply_gradients(grads_and_vars, *args, **kwargs)


class DPKerasSGDOptimizer(_DPOptimizer, keras.optimizers.SGD):
    """Keras' SGD with TF Privacy's l2_norm_clip, noise_multiplier and num_microbatches."""


class DPKerasAdamOptimizer(_DPOptimizer, keras.optimizers.Adam):
    """Keras' Adam with TF Privacy's l2_norm_clip, noise_multiplier and num_microbatches."""


class DPKerasAdagradOptimizer(_DPOptimizer, keras.optimizers.Adagrad):
    """Keras' Adagrad with TF Privacy's l2_norm_clip, noise_multiplier and num_microbatches."""


class _OptimizerSettings(PrivateModel):
    """A PrivateModel whose DP settings come from the DP optimizer it is compiled with."""

    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        if not isinstance(optimizer, _DPOptimizer):
            raise UsageError(
                "make_private(model) without a DPConfig takes its DP settings from a DP optimizer: compile it with "
                f"DPKerasSGDOptimizer, DPKerasAdamOptimizer or DPKerasAdagradOptimizer, not {type(optimizer).__name__}."
            )
        self.dp_config = optimizer.dp_config
        optimizer.applies_private_gradients = True
        super().compile(optimizer=optimizer, loss=loss, **kwargs)


SETTINGS_FROM_COMPILE = DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=1)  # replaced there


def make_private(model: keras.Model) -> PrivateModel:
    """``model`` made private with the settings of the DP optimizer it will be compiled with."""
    return _make_private(model, SETTINGS_FROM_COMPILE, model_class=_OptimizerSettings)


class _TFPrivacyModel(PrivateModel):
    """A PrivateModel built from TF Privacy's DPModel arguments; ``use_xla`` is compile's default."""

    def __init__(self, inner, l2_norm_clip, noise_multiplier, num_microbatches, use_xla, layer_registry) -> None:
        _refuse_layer_registry(layer_registry)
        super().__init__(inner, _dp_config(l2_norm_clip, noise_multiplier, num_microbatches))
        self.use_xla = use_xla

    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        kwargs.setdefault("jit_compile", self.use_xla)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)


class DPSequential(_TFPrivacyModel):
    """TF Privacy's DPSequential: a Sequential model of ``layers`` trained with DP-SGD."""

    def __init__(
        self,
        l2_norm_clip: float,
        noise_multiplier: float,
        num_microbatches: int | None = None,
        use_xla: bool = True,
        layer_registry=None,
        layers=None,
        name: str | None = None,
    ) -> None:
        inner = keras.Sequential(layers, name=name)
        super().__init__(inner, l2_norm_clip, noise_multiplier, num_microbatches, use_xla, layer_registry)


class DPModel(_TFPrivacyModel):
    """TF Privacy's DPModel: a Functional model from ``inputs`` to ``outputs`` trained with DP-SGD."""

    def __init__(
        self,
        l2_norm_clip: float,
        noise_multiplier: float,
        num_microbatches: int | None = None,
        use_xla: bool = True,
        layer_registry=None,
        *,
        inputs,
        outputs,
        name: str | None = None,
    ) -> None:
        inner = keras.Model(inputs=inputs, outputs=outputs, name=name)
        super().__init__(inner, l2_norm_clip, noise_multiplier, num_microbatches, use_xla, layer_registry)


def compute_dp_sgd_privacy_statement(**kwargs) -> str:
    """TF Privacy's own privacy statement of a DP-SGD run (its arguments, its text)."""
    analysis = tf_privacy_module("privacy.analysis.compute_dp_sgd_privacy_lib")
    return analysis.compute_dp_sgd_privacy_statement(**kwargs)
