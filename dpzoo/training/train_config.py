"""TrainConfig: everything one training run needs, validated at construction.

Paper configs under train/configs/ return one of these from ``get_config()``; flags given on
the command line replace single fields with ``dataclasses.replace`` (which validates again).
"""

import dataclasses
import types
from collections.abc import Mapping
from typing import Any

from dpzoo import finetuning, methods
from dpzoo.accounting import ACCOUNTANTS, SAMPLINGS
from dpzoo.common import validation
from dpzoo.common.errors import UsageError
from dpzoo.data.fixed_views import FixedViews
from dpzoo.methods.modelmix import MIXINGS
from dpzoo.privacy.batch_norm_fix import MODES as BATCH_NORM_FIXES
from dpzoo.privacy.dp_config import CLIPPING_NORMS, CLIPPING_STRATEGIES, check_linf_p
from dpzoo.training import canary_audit, engines
from dpzoo.training.averaging import EVAL_WEIGHTS
from dpzoo.training.distribution import DISTRIBUTIONS

MODELMIX_MIXINGS = MIXINGS  # the method's a ~ U[0, 1]; a = 1, an ablation
OPTIMIZERS = ("sgd", "momentum", "adam")
LR_SCHEDULES = ("constant", "cosine")
JIT_MODES = ("auto", "true", "false")
INIT_WEIGHTS = ("imagenet", "none")  # of a keras.applications starting point


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One training run.

    ``method`` names a registered method (``dpzoo.methods.names()``), whose module states what it
    adds to DP-SGD and what it refuses; ``modelmix_tau_ratio`` is ModelMix's gap tau over the
    learning rate; ``modelmix_mixing="fixed"`` (a = 1) is an ablation that states DP-SGD's epsilon.
    ``clipping_norm="l2+linf"`` with ``linf_p`` is refined clipping (needed for
    ModelMix's epsilon).

    A private engine needs exactly one of noise_multiplier / target_epsilon (sigma is then
    calibrated to reach the target after ``epochs``), or, with ``stop_at_epsilon``, a
    target_epsilon and optionally a noise_multiplier: training stops before the step that would
    exceed the target (De et al. 2022 train until the budget is spent).

    ``physical_batch_size`` P runs each logical step in chunks of P rows (virtual batches: memory
    set by P, not B); ``distribution`` picks a tf.distribute strategy (dpzoo.training.distribution).
    Both need engine='dpzoo'; neither changes the update nor the privacy accounting.
    ``max_steps`` ends the run after that many steps (a trial of a config; the card's epsilon
    counts the steps taken).

    ``data_norm_noise_multiplier`` sigma releases the per-channel mean and variance that a
    model's ChannelNormalization needs (Tramer & Boneh's data normalisation: two Gaussian
    mechanisms on the training set, per-example statistics clipped to ``data_norm_mean_clip`` and
    ``data_norm_square_clip``; dpzoo.privacy.channel_statistics); their cost is composed into the
    run's epsilon, and a target epsilon is calibrated for the total. Required exactly when the
    model has such a layer. ``feature_centering_noise_multiplier`` likewise releases the mean of
    every feature that a model's FeatureCentering subtracts (DPSGD-F: one Gaussian mechanism, each
    example's features clipped to ``feature_centering_clip``; composed the same way).

    ``mirror_views`` gives each example two fixed views, itself and its mirror image (flipped left
    to right), whose gradients are averaged before clipping: augmentation multiplicity (De et al.
    2022) with a fixed set of views, so a model with a fixed front (a ScatterNet) computes both
    views' features once. ``shift_views`` s > 0 adds four more fixed views, the example shifted
    by s pixels down, up, right and left (dpzoo.data.fixed_views). All views are functions of the
    one example, so clipping bounds its contribution as before and the accounting is unchanged.

    ``lr_schedule="cosine"`` decays the learning rate from ``learning_rate`` to 0 over the run's
    steps (a cosine); the step counts of the optimizer, restored on a resume, drive it.

    ``adaptive_clip_quantile`` q turns on adaptive clipping (Andrew et al. 2021; engine
    'tf_privacy', TF Privacy's QuantileAdaptiveClipSumQuery): the clip starts at ``l2_norm_clip``
    and moves geometrically, by ``adaptive_clip_learning_rate``, towards the q-quantile of the
    gradient norms, estimated from a count released with noise of std ``clipped_count_stddev``
    (None: batch_size / 20, as the paper suggests). sigma is then the step's effective noise
    multiplier, both releases together (dpzoo.accounting.adaptive_clipping).

    ``init_from`` names a dpzoo run folder, or a zoo checkpoint or public backbone by its name
    (once dpzoo.zoo is imported; the card keeps the name), whose model, ``model`` with
    ``model_kwargs``, this run fine-tunes (dpzoo.training.pretrained): its classification layer is
    replaced by a zero one for this dataset's classes and ``finetune`` (full, head, norms, lora with
    ``lora_rank``) says what trains (dpzoo.finetuning), whatever a fine-tuning run that made the
    folder froze. The card names the starting point, its
    data and its own privacy statement; one that saw this run's dataset is refused unless
    ``compose_start`` composes its guarantee with this run's (below). ``init_from`` may also name a
    keras.applications model (``keras.applications.MobileNetV3Small``; ``model`` names it too), with
    ``init_weights`` "imagenet" (Keras downloads them) or "none" (random: for tests). A starting
    point built for other images takes this dataset's through ``adapt_inputs`` "HxWxC", its input
    shape: a fixed resize and channel repeat put in front of it (dpzoo.finetuning.inputs), never
    implicitly. ``batch_norm`` "freeze" (inference mode, pretrained statistics) or "group_norm"
    (GroupNormalization in its place) makes a model with BatchNormalization trainable privately.
    ``init_from`` may also be a Keras model file (``.keras``, your own pretrained model); it records
    no data, so ``init_data`` must say what it was trained on (the card records that declaration),
    and the run folder keeps a copy of the file to rebuild the model from. A bare weights file
    (``.weights.h5``, ``model.save_weights``) holds no architecture: its weights load into
    ``model`` with ``model_kwargs``, built for ``init_classes`` classes (default: this dataset's),
    and ``init_data`` is declared as for a Keras file. A keras-hub preset (``keras_hub:PRESET``,
    ``model`` the same) starts from the preset's image backbone with a pooled head
    (dpzoo.models.hub), ``init_data`` declared and the built model kept as for a Keras file.
    ``compose_start``: the start was trained privately on this run's own data (DP-RandP's linear
    probe before its full fine-tuning); its steps are composed into every epsilon this run states
    (dpzoo.accounting.earlier_runs), and a target epsilon is the total of both. Its classification
    layer, trained on this task, carries on instead of a zero one.

    ``audit_canaries`` M plants M canaries in the run for a one-run audit (the card's canary
    audit, dpzoo.training.canary_audit): ``audit_mode`` white_box, gradient canaries in the noisy
    sums (dpzoo.privacy.canaries), or black_box, mislabelled training examples scored on the final
    model (dpzoo.data.input_canaries). They change the weights, so such a run audits its recipe
    and is not itself a model to ship.

    ``checkpoint_every_steps`` N checkpoints the run every N steps so that rerunning it after a
    crash resumes (dpzoo.training.resume); None: after each minute of training; 0: never.
    ``deterministic`` runs TensorFlow's ops deterministically (dpzoo.common.determinism), so that a
    resumed run ends bitwise where the uninterrupted one does; off, some kernels sum in an order
    that depends on thread timing and a rerun ends close to, not at, the same weights.
    """

    model: str = "tutorial_cnn"
    model_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    init_from: str | None = None
    finetune: str = "full"
    lora_rank: int = finetuning.DEFAULT_LORA_RANK
    init_weights: str = "imagenet"
    adapt_inputs: str | None = None
    batch_norm: str | None = None
    compose_start: bool = False
    init_data: str | None = None
    init_classes: int | None = None
    dataset: str = "fashion_mnist"
    data_dir: str | None = None
    max_train_examples: int | None = None
    epochs: int = 10
    batch_size: int = 256
    learning_rate: float = 1.0
    lr_schedule: str = "constant"
    optimizer: str = "sgd"
    momentum: float = 0.9
    l2_norm_clip: float = 1.0
    noise_multiplier: float | None = None
    target_epsilon: float | None = None
    delta: float = 1e-5
    sampling: str = "poisson"
    accountant: str = "pld"
    engine: str = engines.DEFAULT
    method: str = methods.DEFAULT
    clipping: str = "auto"
    clipping_norm: str = "l2"
    linf_p: float | None = None
    modelmix_tau_ratio: float = 0.15
    modelmix_mixing: str = "uniform"
    jit_compile: str = "auto"
    standardize: bool = True
    augment: bool = False
    crop_padding: int = 4
    augmult: int = 1
    mirror_views: bool = False
    shift_views: int = 0
    ema_decay: float = 0.999
    data_norm_noise_multiplier: float | None = None
    data_norm_mean_clip: float = 0.5
    data_norm_square_clip: float = 1.0
    feature_centering_noise_multiplier: float | None = None
    feature_centering_clip: float = 1.0
    eval_weights: str = "raw"
    stop_at_epsilon: bool = False
    max_steps: int | None = None
    physical_batch_size: int | None = None
    distribution: str = "none"
    checkpoint_every_steps: int | None = None
    adaptive_clip_quantile: float | None = None
    adaptive_clip_learning_rate: float = 0.2
    clipped_count_stddev: float | None = None
    audit_canaries: int = 0
    audit_mode: str = "white_box"
    deterministic: bool = True
    seed: int = 0
    output_dir: str = "runs/latest"
    overwrite: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_kwargs", types.MappingProxyType(dict(self.model_kwargs)))
        validation.positive("epochs", self.epochs)
        validation.positive("batch_size", self.batch_size)
        validation.positive("learning_rate", self.learning_rate)
        validation.positive("l2_norm_clip", self.l2_norm_clip)
        validation.in_open_unit_interval("delta", self.delta)
        validation.one_of("finetune", self.finetune, finetuning.MODES)
        validation.positive("lora_rank", self.lora_rank)
        if self.finetune != "full" and not self.init_from:
            raise UsageError(f"finetune={self.finetune!r} needs init_from: a pretrained run folder to fine-tune.")
        validation.one_of("init_weights", self.init_weights, INIT_WEIGHTS)
        if self.adapt_inputs is not None:
            finetuning.parse_shape(self.adapt_inputs)
        if self.batch_norm is not None:
            validation.one_of("batch_norm", self.batch_norm, BATCH_NORM_FIXES)
        if self.init_classes is not None:
            validation.positive("init_classes", self.init_classes)
        starting_point = (self.adapt_inputs, self.batch_norm, self.compose_start, self.init_data, self.init_classes)
        if any(v is not None and v is not False for v in starting_point) and not self.init_from:
            raise UsageError(
                "adapt_inputs, batch_norm, compose_start, init_data and init_classes are about a starting point: "
                "they need init_from."
            )
        if self.compose_start and self.method == "modelmix":
            raise UsageError("compose_start: ModelMix's accountant cannot compose an earlier run; use --method=dpsgd.")
        validation.one_of("optimizer", self.optimizer, OPTIMIZERS)
        validation.one_of("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        validation.one_of("sampling", self.sampling, SAMPLINGS)
        validation.one_of("accountant", self.accountant, ACCOUNTANTS)
        validation.one_of("engine", self.engine, engines.names())
        validation.one_of("method", self.method, methods.names())
        methods.get(self.method).check_config(self)
        validation.one_of("clipping", self.clipping, CLIPPING_STRATEGIES)
        validation.one_of("clipping_norm", self.clipping_norm, CLIPPING_NORMS)
        check_linf_p(self.clipping_norm, self.linf_p)
        validation.positive("modelmix_tau_ratio", self.modelmix_tau_ratio)
        validation.one_of("modelmix_mixing", self.modelmix_mixing, MODELMIX_MIXINGS)
        validation.one_of("jit_compile", self.jit_compile, JIT_MODES)
        if self.max_train_examples is not None:
            validation.positive("max_train_examples", self.max_train_examples)
        if self.target_epsilon is not None:
            validation.positive("target_epsilon", self.target_epsilon)
        if self.noise_multiplier is not None:
            validation.non_negative("noise_multiplier", self.noise_multiplier)
        validation.positive("augmult", self.augmult)
        validation.non_negative("crop_padding", self.crop_padding)
        validation.in_open_unit_interval("ema_decay", self.ema_decay)
        if self.data_norm_noise_multiplier is not None:
            validation.positive("data_norm_noise_multiplier", self.data_norm_noise_multiplier)
        validation.positive("data_norm_mean_clip", self.data_norm_mean_clip)
        validation.positive("data_norm_square_clip", self.data_norm_square_clip)
        if self.feature_centering_noise_multiplier is not None:
            validation.positive("feature_centering_noise_multiplier", self.feature_centering_noise_multiplier)
        validation.positive("feature_centering_clip", self.feature_centering_clip)
        validation.one_of("eval_weights", self.eval_weights, EVAL_WEIGHTS)
        if self.augmult > 1 and not self.augment:
            raise UsageError(f"augmult={self.augmult} needs augment=True: un-augmented views are identical copies.")
        validation.non_negative("shift_views", self.shift_views)
        engines.get(self.engine).check_config(self)
        private = engines.get(self.engine).private
        if self.stop_at_epsilon and (self.target_epsilon is None or not private):
            raise UsageError("stop_at_epsilon needs a private engine and a target_epsilon to stop at.")
        if private and not self.stop_at_epsilon:
            given = (self.noise_multiplier is not None) + (self.target_epsilon is not None)
            if given != 1:
                raise UsageError(
                    "Expected exactly one of noise_multiplier or target_epsilon for a private "
                    f"engine; got noise_multiplier={self.noise_multiplier}, "
                    f"target_epsilon={self.target_epsilon}."
                )
        validation.one_of("distribution", self.distribution, DISTRIBUTIONS)
        if self.max_steps is not None:
            validation.positive("max_steps", self.max_steps)
        if self.physical_batch_size is not None:
            validation.positive("physical_batch_size", self.physical_batch_size)
        if self.checkpoint_every_steps is not None:
            validation.non_negative("checkpoint_every_steps", self.checkpoint_every_steps)
        if self.adaptive_clip_quantile is not None:
            validation.in_open_unit_interval("adaptive_clip_quantile", self.adaptive_clip_quantile)
        validation.positive("adaptive_clip_learning_rate", self.adaptive_clip_learning_rate)
        if self.clipped_count_stddev is not None:
            validation.positive("clipped_count_stddev", self.clipped_count_stddev)
        validation.non_negative("audit_canaries", self.audit_canaries)
        validation.one_of("audit_mode", self.audit_mode, canary_audit.MODES)
        refusal = canary_audit.refusal(self) if self.audit_canaries else None
        if refusal:
            raise UsageError(f"audit_canaries: {refusal}")
        if not self.output_dir:
            raise UsageError("Expected a non-empty output_dir.")

    @property
    def count_stddev(self) -> float:
        """Std of adaptive clipping's count noise: the configured one, or batch_size / 20."""
        return self.clipped_count_stddev or self.batch_size / 20

    @property
    def fixed_views(self) -> FixedViews:
        """The fixed views each example comes as (count 1: none)."""
        return FixedViews(mirror=self.mirror_views, shift=self.shift_views)

    @property
    def views_per_example(self) -> int:
        """K, the views whose gradients the engine averages per example: the fixed views' count
        with mirror_views or shift_views, else augmult."""
        return max(self.fixed_views.count, self.augmult)
