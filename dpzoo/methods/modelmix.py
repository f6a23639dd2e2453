"""ModelMix (Xiao, Wan, Devadas; METHODS.md section 3): random mixing of the two latest model states.

Around each optimizer step the ``ModelMix`` callback turns plain SGD's update
w_k = w_{k-1} - eta * g into

    w_k = a * w'_{k-1} + (1 - a) * w'_{k-2} - eta * g,    a ~ U[0, 1] per coordinate and step,

where g is the step's noisy clipped mean gradient (taken at w_{k-1}) and w'_{k-1}, w'_{k-2} are the
two latest states after the minimum gap tau has been enforced per coordinate: where
|w_{k-1} - w_{k-2}| < tau, with s = sign(w_{k-1} - w_{k-2}) (+1 when equal), w_{k-1} moves by
+s tau/2 and w_{k-2} by -s tau/2. The secret a times a gap of at least tau acts as uniform noise of
width tau/eta in gradient units, which ``dpzoo.accounting.modelmix_epsilon`` accounts for.

The callback reads -eta * g as the optimizer's own change of the weights, so the optimizer must be
plain SGD: a momentum buffer would re-inject past, unmixed gradients (and Adam rescales them). The
guarantee also needs every trainable variable mixed and Poisson-sampled batches; ``violations``
names what breaks it, and a run that breaks it reports DP-SGD's epsilon instead.

For measurement, the callback logs ``mixing_rms`` after each epoch: the root mean square, over
coordinates and steps, of how far mixing moved the weights from plain SGD's update (gap
enforcement included), in weight units, to set beside DP-SGD's Gaussian noise per coordinate,
eta sigma C / B. ``mixing="fixed"`` (a = 1: the gap is enforced, nothing is mixed) is an
ablation only: its randomness is gone, so it never states ModelMix's epsilon.

The per-step work is two compiled functions over all variables (before the step: keep w_{k-1}
and the gap; after it: elementwise ops and one uniform draw per variable). Its state, w'_{k-2}
and the generator of a, is a ``tf.Module`` (``state``) to be saved with the model's checkpoint,
so a resumed run continues the same mixing.

``ModelMixMethod`` is ``--method=modelmix``'s plug-in: it attaches the callback, checks the
config's side of the guarantee (plain SGD, Poisson sampling, refined clipping), calibrates sigma to
the smaller of the two epsilons, and states ModelMix's terms, or why they are not used.
"""

from typing import Any

import tensorflow as tf
from absl import logging

from dpzoo.accounting import ModelMixTerms, calibrate_modelmix_noise, composed, statistics_releases, steps_per_epoch
from dpzoo.common import keras_api, validation
from dpzoo.common.errors import UsageError
from dpzoo.common.learning_rate import upcoming_learning_rate
from dpzoo.common.stack import keras
from dpzoo.methods.method import Attachment, Method, PrivacyTerms, RunConfig

MIXINGS = ("uniform", "fixed")


def _short_name(variable: tf.Variable) -> str:
    return keras_api.variable_name(variable)


class MixingState(tf.Module):
    """ModelMix's state between steps: w'_{k-2} (``older``) per mixed variable, the generator of
    the mixing weights, and whether mixing has started. Checkpoint it with the model."""

    def __init__(self, variables: list[tf.Variable], seed: int | None) -> None:
        super().__init__(name="modelmix")
        self.older = [tf.Variable(v, trainable=False, name=f"older/{_short_name(v)}") for v in variables]
        if seed is None:
            self.generator = tf.random.Generator.from_non_deterministic_state()
        else:
            self.generator = tf.random.Generator.from_seed(seed)
        self.started = tf.Variable(False, trainable=False, name="started")


def enforce_gap(newer: tf.Tensor, older: tf.Tensor, tau: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(w'_{k-1}, w'_{k-2}): where |newer - older| < tau, both move apart by tau/2 each, away from
    each other (newer upwards when they are equal)."""
    sign = tf.where(newer >= older, tf.ones_like(newer), -tf.ones_like(newer))
    shift = tf.where(tf.abs(newer - older) < tau, sign * tau / 2, tf.zeros_like(newer))
    return newer + shift, older - shift


class ModelMix(keras.callbacks.Callback):
    """Mixes the model's two latest states around every optimizer step (see the module docstring).

    Give exactly one of ``tau`` (the minimum gap, in weight units) or ``tau_ratio`` (tau =
    tau_ratio * eta_k, eta_k the learning rate of step k: the paper's tau = 0.15 * eta). The
    accountant's width tau/eta is ``tau_ratio``, or ``tau`` / the largest learning rate.
    ``seed`` seeds the mixing weights (None: fresh entropy).

    Put it first in ``fit``'s callbacks, before callbacks that read the weights after a step
    (parameter averaging). The model must run one step per execution (steps_per_execution=1).
    ``mixing``: "uniform" (the method) or "fixed" (a = 1, an ablation without the guarantee).
    """

    def __init__(
        self,
        *,
        tau: float | None = None,
        tau_ratio: float | None = None,
        seed: int | None = None,
        mixing: str = "uniform",
    ) -> None:
        super().__init__()
        if (tau is None) == (tau_ratio is None):
            raise UsageError(f"Give exactly one of tau or tau_ratio to ModelMix; got tau={tau}, tau_ratio={tau_ratio}.")
        validation.positive("tau" if tau is not None else "tau_ratio", tau if tau is not None else tau_ratio)
        validation.one_of("mixing", mixing, MIXINGS)
        self.tau = tau
        self.tau_ratio = tau_ratio
        self.seed = seed
        self.mixing = mixing
        # mixing_rms of the epoch so far: sum of squared displacements and coordinates counted
        self._displacement = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="modelmix_displacement")
        self._coordinates = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="modelmix_coordinates")
        self.state: MixingState | None = None
        self._variables: list[tf.Variable] = []
        # within one step only, so not checkpointed: w_{k-1} before the step and the step's gap
        self._newer: list[tf.Variable] = []
        self._gap = tf.Variable(0.0, trainable=False, name="modelmix_gap")

    def set_model(self, model: keras.Model) -> None:
        super().set_model(model)
        if self.state is None:
            self._variables = list(model.trainable_variables)
            self.state = MixingState(self._variables, self.seed)
            self._newer = [tf.Variable(v, trainable=False, name=f"newer/{_short_name(v)}") for v in self._variables]

    @property
    def gap(self) -> float:
        """The minimum gap tau of the latest step."""
        return float(self._gap.numpy())

    def unmixed_variables(self) -> list[str]:
        """Names of the model's trainable variables this callback does not mix (made trainable
        after it was attached); any breaks ModelMix's guarantee."""
        mixed = {id(v) for v in self._variables}
        return [keras_api.variable_name(v) for v in self.model.trainable_variables if id(v) not in mixed]

    def violations(self) -> list[str]:
        """What breaks ModelMix's guarantee that this callback can see: an optimizer other than
        plain SGD, or unmixed variables. Empty when mixing holds up (sampling is the run's to check)."""
        reasons = []
        optimizer = self.model.optimizer
        momentum = float(tf.convert_to_tensor(getattr(optimizer, "momentum", 0.0)))
        if not isinstance(optimizer, keras.optimizers.SGD) or momentum != 0.0:
            kind = type(optimizer).__name__ + (f" with momentum {momentum:g}" if momentum else "")
            reasons.append(
                f"the optimizer is {kind}, not plain SGD: a momentum buffer or adaptive scaling re-injects "
                "unmixed past gradients"
            )
        if getattr(optimizer, "weight_decay", None):
            reasons.append("the optimizer applies weight decay outside the mixed update")
        unmixed = self.unmixed_variables()
        if unmixed:
            reasons.append(f"variables {', '.join(unmixed)} are not mixed")
        if self.mixing != "uniform":
            reasons.append(f"mixing={self.mixing!r} (a = 1) is an ablation: no mixing weight is drawn")
        return reasons

    def on_train_begin(self, logs: dict | None = None) -> None:
        steps = keras_api.steps_per_execution(self.model)
        if steps != 1:
            raise UsageError(f"ModelMix mixes around every step; compile with steps_per_execution=1 (got {steps}).")
        for reason in self.violations():
            logging.warning("ModelMix's guarantee does not hold: %s.", reason)
        if not bool(self.state.started.numpy()):
            self._start()

    @tf.function
    def _start(self) -> None:
        """w_{-1} = w_0: the first step's gap is enforced from zero."""
        for variable, older in zip(self._variables, self.state.older, strict=True):
            older.assign(variable)
        self.state.started.assign(True)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._remember()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._mix()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Logs the epoch's mixing_rms (see the module docstring) and starts the next epoch's."""
        counted = float(self._coordinates.numpy())
        if logs is not None and counted:
            logs["mixing_rms"] = (float(self._displacement.numpy()) / counted) ** 0.5
        self._displacement.assign(0.0)
        self._coordinates.assign(0.0)

    @tf.function
    def _remember(self) -> None:
        """Before the step: keep w_{k-1} and this step's gap tau (tau, or tau_ratio * eta_k)."""
        for variable, newer in zip(self._variables, self._newer, strict=True):
            newer.assign(variable)
        if self.tau is not None:
            self._gap.assign(self.tau)
        else:
            self._gap.assign(self.tau_ratio * upcoming_learning_rate(self.model.optimizer))

    @tf.function
    def _mix(self) -> None:
        """After the step: w_k = a w'_{k-1} + (1 - a) w'_{k-2} + (w_k^SGD - w_{k-1}); w'_{k-1} becomes
        the next step's w_{k-2}."""
        for variable, newer, older in zip(self._variables, self._newer, self.state.older, strict=True):
            update = variable - newer  # -eta * g, the optimizer's step
            newer_gapped, older_gapped = enforce_gap(newer, older, self._gap)
            a = self.state.generator.uniform(tf.shape(variable), dtype=variable.dtype)
            if self.mixing == "fixed":
                a = tf.ones_like(a)  # the draw still happens: the generator advances as in the method
            mixed = a * newer_gapped + (1.0 - a) * older_gapped
            self._displacement.assign_add(tf.reduce_sum(tf.cast(tf.square(mixed - newer), tf.float64)))
            self._coordinates.assign_add(tf.cast(tf.size(variable), tf.float64))
            variable.assign(mixed + update)
            older.assign(newer_gapped)


NOT_REPORTED = "ModelMix's epsilon is not reported: {reasons}. The epsilon is DP-SGD's for the same run."


class ModelMixMethod(Method):
    """DP-SGD with the ModelMix callback. Where the run meets the guarantee's assumptions (plain
    SGD, Poisson sampling, refined clipping, every trainable variable mixed), it states the smaller
    of ModelMix's and DP-SGD's epsilon and sigma is calibrated to that; otherwise DP-SGD's epsilon,
    with the reason in the card."""

    name = "modelmix"
    paper = "Xiao, Wan, Devadas (ModelMix)"
    summary = (
        "Xiao et al.: the two latest states mixed around each step; plain SGD, Poisson sampling and "
        "--clipping_norm=l2+linf for its epsilon, else DP-SGD's is reported"
    )
    engines = ("dpzoo",)

    def check_config(self, config: RunConfig) -> None:
        super().check_config(config)
        if config.stop_at_epsilon:
            raise UsageError(
                "stop_at_epsilon is not supported with method='modelmix'; give --epochs and a target_epsilon."
            )
        distribution = config.distribution
        if distribution in ("multi_worker", "tpu"):
            raise UsageError(
                f"method='modelmix' is not supported with distribution={distribution!r}: its mixing weights are drawn "
                "by a callback in each process, and one draw shared by every worker is not built. Use "
                "--distribution=mirrored (one process: one draw for all replicas) or none."
            )

    def extra_accountant(self, config: RunConfig) -> ModelMixTerms | None:
        return self._guarantee(config)[0]

    def _guarantee(self, config: RunConfig) -> tuple[ModelMixTerms | None, list[str]]:
        """(ModelMix's accounting terms, []) where the config meets the guarantee's assumptions
        (METHODS.md section 3), else (None, what breaks them)."""
        reasons = []
        if config.optimizer != "sgd":
            reasons.append(f"the optimizer is {config.optimizer}, not plain SGD: it re-injects unmixed past gradients")
        if config.sampling != "poisson":
            reasons.append(f"batches are {config.sampling}d, not Poisson samples: the accountant's subsampling fails")
        if config.clipping_norm != "l2+linf":
            reasons.append("plain L2 clipping gives no per-coordinate bound (use clipping_norm='l2+linf', linf_p)")
        if config.modelmix_mixing != "uniform":
            reasons.append(f"modelmix_mixing={config.modelmix_mixing!r} (a = 1) is an ablation: nothing is mixed")
        if reasons:
            return None, reasons
        terms = ModelMixTerms(
            l2_norm_clip=config.l2_norm_clip, linf_p=config.linf_p, tau_over_lr=config.modelmix_tau_ratio
        )
        return terms, []

    def noise_multiplier(self, config: RunConfig, n: int, dpsgd_noise_multiplier: float) -> float:
        terms = self.extra_accountant(config)
        if terms is None:
            return dpsgd_noise_multiplier
        return calibrate_modelmix_noise(
            terms,
            target_epsilon=config.target_epsilon,
            delta=config.delta,
            n=n,
            batch_size=config.batch_size,
            steps=config.epochs * steps_per_epoch(n, config.batch_size, config.sampling),
            dpsgd_noise_multiplier=dpsgd_noise_multiplier,
            prior=composed(*statistics_releases(config)),
        )

    def attach(self, config: RunConfig, trainable: keras.Model) -> Attachment:
        """The callback (its own check covers the built model: the optimizer, unmixed variables;
        the config's reasons cover the optimizer, sampling and clipping), its state for the
        checkpoint, and ModelMix's terms, or the reason they are not used."""
        mixing = ModelMix(tau_ratio=config.modelmix_tau_ratio, seed=config.seed, mixing=config.modelmix_mixing)
        mixing.set_model(trainable)  # creates the mixing state the checkpoint holds
        terms, broken = self._guarantee(config)
        broken = broken or mixing.violations()
        privacy = PrivacyTerms(
            reason=NOT_REPORTED.format(reasons="; ".join(broken)) if broken else "",
            modelmix=None if broken else terms,
        )
        return Attachment(callbacks=(mixing,), checkpoint={"modelmix": mixing.state}, privacy=privacy)

    def card_fields(self, config: RunConfig) -> dict[str, Any]:
        return {"modelmix_tau_ratio": config.modelmix_tau_ratio, "modelmix_mixing": config.modelmix_mixing}
