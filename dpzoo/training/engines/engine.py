"""What an engine is to the trainer: how it samples, what it can do, and how it compiles a model.

An engine (``--engine``) turns the run's model into one Keras can ``fit``: dpzoo's DP-SGD, TF
Privacy's DP optimizers, or plain Keras training. The trainer and ``TrainConfig`` ask the
engine instead of comparing its name: ``check_config`` refuses what it cannot run, and its
capabilities say how the run is set up (its sampling, whether a run resumes, chunks its steps,
runs under tf.distribute, averages an example's views, ...). An engine is one module with a
subclass of ``Engine``, registered in ``dpzoo.training.engines``.
"""

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.data.sampling import PoissonSampler, ShuffleSampler
from dpzoo.privacy.canaries import CanaryPlan

if TYPE_CHECKING:  # TrainConfig asks the engines to check it: no import at run time
    from dpzoo.training.train_config import TrainConfig

StepCounter = Callable[[], int]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CompilePlan:
    """What the trainer settled before compiling: sigma, XLA, the run's steps, AuxBatchNorm's
    public images, the chunk rows and the audit canaries to plant."""

    noise_multiplier: float
    jit: bool
    steps: int
    public_images: np.ndarray | None = None
    physical_batch_size: int | None = None
    canaries: CanaryPlan | None = None


class Engine:
    """An engine's answers to the trainer; each default is the most a private engine can claim
    without dpzoo's own per-example machinery."""

    name: str  # the --engine value
    summary: str  # one line for --engine's help
    private: bool = True  # clips and noises each step, so the run has an epsilon
    resumable: bool = True  # a checkpoint restores all its state, noise generators included
    not_resumable_because: str = ""  # why not, when not
    chunks_and_distributes: bool = False  # physical_batch_size and tf.distribute
    averages_views: bool = False  # an example's K views share one clipped gradient
    refined_clipping: bool = False  # clipping_norm other than l2
    public_batch: bool = False  # appends AuxBatchNorm's public batch
    bucketed_batches: bool = False  # takes any padded batch size (no graph per size from Keras)
    adaptive_clipping: bool = False  # adaptive_clip_quantile (Andrew et al.)
    plants_canaries: bool = False  # audit_canaries: white-box gradient canaries in its noisy sum
    sampling_note: str = "batches as --sampling draws them"  # for describe()

    def sampling(self, config: "TrainConfig") -> str:
        """The sampling its batches are drawn with: the configured one."""
        return config.sampling

    def check_config(self, config: "TrainConfig") -> None:
        """Raises UsageError for settings this engine cannot run."""
        if config.clipping_norm != "l2" and not self.refined_clipping:
            raise UsageError(f"clipping_norm={config.clipping_norm!r} needs engine='dpzoo'.")
        if config.augmult > 1 and not self.averages_views:
            raise UsageError(f"augmult={config.augmult} needs engine='dpzoo' (it averages each example's views).")
        if config.fixed_views.count > 1 and (config.augment or not self.averages_views):
            raise UsageError(
                "mirror_views and shift_views give each example fixed views (itself, its mirror image, its "
                "shifts) and need engine='dpzoo', which averages them; --augment draws random views instead. "
                "Use one of them."
            )
        if (config.physical_batch_size or config.distribution != "none") and not self.chunks_and_distributes:
            raise UsageError(
                f"physical_batch_size and distribution={config.distribution!r} need engine='dpzoo' "
                f"(engine={self.name!r} runs each batch in one pass on one device)."
            )
        if config.adaptive_clip_quantile is not None and not self.adaptive_clipping:
            raise UsageError(
                f"adaptive_clip_quantile needs engine='tf_privacy' (TF Privacy's QuantileAdaptiveClipSumQuery); "
                f"engine={self.name!r} clips at a fixed norm."
            )
        if config.audit_canaries and config.audit_mode == "white_box" and not self.plants_canaries:
            raise UsageError(
                f"audit_canaries needs engine='dpzoo', which plants white-box canaries in its noisy sum; "
                f"engine={self.name!r} does not (audit_mode='black_box' audits any engine)."
            )
        if config.checkpoint_every_steps and not self.resumable:
            raise UsageError(
                f"checkpoint_every_steps needs engine='dpzoo' or 'nonprivate': {self.not_resumable_because}. "
                "Pass --checkpoint_every_steps=0."
            )

    def physical_batch_size(
        self, config: "TrainConfig", sampler: PoissonSampler | ShuffleSampler, replicas: int
    ) -> int | None:
        """P, the rows of one chunk of a step; None: a step is one pass."""
        return None

    def compile(self, config: "TrainConfig", model: keras.Model, plan: CompilePlan) -> tuple[keras.Model, StepCounter]:
        """(the trainable Keras model, its step counter) for the planned run; called under the
        strategy's scope when the run is distributed."""
        raise NotImplementedError

    def card_fields(self, config: "TrainConfig", trainable: keras.Model, noise_multiplier: float) -> dict:
        """What the card's training section records of this engine's mechanism after the run."""
        return {}

    def describe(self) -> str:
        """One line of what this engine does and can do, for --engine's help and the docs."""
        can = [
            self.sampling_note,
            "resumes" if self.resumable else "does not resume",
            "chunks and distributes" if self.chunks_and_distributes else "one pass on one device",
        ]
        return f"{self.name} ({self.summary}; {', '.join(can)})"
