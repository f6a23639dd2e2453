"""What a published method adds to a DP-SGD run: the plug-in the trainer asks, by name of none.

The trainer (``dpzoo.training``) looks the run's method up (``dpzoo.methods.get(config.method)``)
and asks it, in this order:

1. ``check_config``: refuse settings the method cannot run or that break its guarantee;
2. ``noise_multiplier``: the sigma a target epsilon needs, given DP-SGD's (a method with its
   own accountant, ``extra_accountant``, may need less);
3. ``dp_config_fields``: the engine's DPConfig fields it sets (update noise, weight noise, ...);
4. ``check_model``: refuse a built model it cannot train;
5. ``attach``: once the private model is compiled, its callbacks, what they add to the
   checkpoint, and its privacy statement (formal or nominal, a second accountant, the reason);
6. ``card_fields``: what the model card's training section records of it.

``Method``'s answers are plain DP-SGD's (Abadi et al. 2016, METHODS.md section 0); a method
overrides what it changes. A new method is one module with a subclass, registered in
``dpzoo.methods``.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

import tensorflow as tf

from dpzoo.accounting import ModelMixTerms
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras


class RunConfig(Protocol):
    """What methods read of a run's config (``dpzoo.training.TrainConfig`` has it all)."""

    model: str
    engine: str
    optimizer: str
    sampling: str
    batch_size: int
    epochs: int
    l2_norm_clip: float
    clipping_norm: str
    linf_p: float | None
    target_epsilon: float | None
    delta: float
    stop_at_epsilon: bool
    modelmix_tau_ratio: float
    modelmix_mixing: str
    data_norm_noise_multiplier: float | None
    feature_centering_noise_multiplier: float | None
    distribution: str
    seed: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class PrivacyTerms:
    """What a method says of a run's epsilon, as ``dpzoo.accounting.PrivacyLedger`` takes it:
    ``guarantee`` "formal" or "nominal"; ``reason``, why the epsilon is no (or not the method's)
    formal guarantee, empty when it is; ``modelmix``, the terms of ModelMix's accountant where the
    run meets its assumptions (the ledger then states the smaller epsilon)."""

    guarantee: str = "formal"
    reason: str = ""
    modelmix: ModelMixTerms | None = None

    def ledger_arguments(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Attachment:
    """What a method attaches to a compiled run: callbacks, run before the trainer's own (which
    read the weights a step leaves); objects saved in the checkpoint beside the model, by name;
    and its privacy terms."""

    callbacks: tuple[keras.callbacks.Callback, ...] = ()
    checkpoint: Mapping[str, tf.Module] = dataclasses.field(default_factory=dict)
    privacy: PrivacyTerms = PrivacyTerms()


class Method:
    """A method's answers to the trainer; each default is DP-SGD's."""

    name: str  # the --method value
    paper: str  # for model cards and the zoo's index
    summary: str  # one line for --method's help
    engines: tuple[str, ...] | None = None  # the --engine values it runs on; None: every one

    def check_config(self, config: RunConfig) -> None:
        """Raises UsageError for settings this method refuses."""
        if self.engines is not None and config.engine not in self.engines:
            raise UsageError(f"method={self.name!r} needs engine={' or '.join(map(repr, self.engines))}.")

    def extra_accountant(self, config: RunConfig) -> ModelMixTerms | None:
        """The terms of an accountant besides DP-SGD's whose bound the configured run meets (the
        ledger then states the smaller epsilon); None: DP-SGD's alone."""
        return None

    def noise_multiplier(self, config: RunConfig, n: int, dpsgd_noise_multiplier: float) -> float:
        """The sigma that meets ``config.target_epsilon``: DP-SGD's calibrated one."""
        return dpsgd_noise_multiplier

    def dp_config_fields(self, config: RunConfig, noise_multiplier: float) -> dict[str, Any]:
        """The DPConfig fields the method sets: DP-SGD's update noise sigma."""
        return {"noise_multiplier": noise_multiplier}

    def check_model(self, config: RunConfig, model: keras.Model) -> None:
        """Raises UsageError for a model this method cannot train."""

    def attach(self, config: RunConfig, trainable: keras.Model) -> Attachment:
        """Callbacks, checkpointed state and privacy terms of a run of ``trainable`` (compiled)."""
        return Attachment()

    def card_fields(self, config: RunConfig) -> dict[str, Any]:
        """Fields of the model card's training section that only this method has."""
        return {}
