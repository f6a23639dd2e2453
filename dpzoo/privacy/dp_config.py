"""DPConfig: the parameters of one DP-SGD training step (METHODS.md section 0).

Frozen and keyword-only; validated at construction. Change a field with
``dataclasses.replace``, which validates again.
"""

import dataclasses
import math

from dpzoo.common import validation
from dpzoo.common.errors import UsageError

CLIPPING_STRATEGIES = ("vectorized", "ghost", "auto")
CLIPPING_NORMS = ("l2", "l2+linf")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DPConfig:
    """Clipping and noise of the private gradient.

    Attributes:
      l2_norm_clip: C, the bound on each example's gradient norm over all trainable
        variables together.
      noise_multiplier: sigma; the Gaussian noise added once to the clipped sum has std
        sigma * C. Zero trains with clipping only (no privacy guarantee).
      expected_batch_size: B, the divisor of the noisy sum. For Poisson sampling it is the
        expected batch size q * N, never the realised one (dividing by the realised size
        would make the update depend on the sample size without noise).
      clipping: how the clipped gradient sum is computed. "vectorized" materialises the
        per-example gradients with one vectorised backward pass over the batch; "ghost" gets each
        example's gradient norm from layer inputs and output gradients (dpzoo.privacy.clipping.ghost),
        per layer by the cheaper of the ghost and the instantiated form, and never differentiates
        the network per example, refusing models with layers it cannot handle; "auto" (default)
        uses ghost where every trainable layer allows it and vectorised otherwise, with a logged
        notice. All three give the same result.
      clipping_norm: "l2" (default) clips each example's gradient to L2 norm C; "l2+linf" is
        ModelMix's refined clipping (Xiao et al., METHODS.md section 3): clip to L2 norm C, then
        clamp every coordinate to [-C/sqrt(p), C/sqrt(p)] with p = ``linf_p``. The L2 bound still
        holds (clamping only shrinks coordinates), so DP-SGD's accounting is unchanged; the
        per-coordinate bound is what the ModelMix accountant needs. Clamping needs each example's
        gradient, so it runs on the vectorised path only.
      linf_p: p of refined clipping (p = 100 for the paper's ResNet-20); only with "l2+linf".
      augmult: K, the augmented views per example (De et al. 2022). With K > 1 the engine
        takes inputs of shape [batch, K, ...] and clips the gradient of each example's mean
        loss over its views; the privacy cost is that of K = 1.
      seed: seed of the noise generator (None: fresh entropy). The generator's state is part
        of the model's checkpoint, so a resumed run never reuses noise.
      weight_noise_multiplier: sigma_w for Gaussian weight layers (Davody et al. 2020, METHODS.md
        section 2): before each step the engine sets their std to s = lr_t * C * sigma_w / B,
        lr_t the optimizer's current learning rate. Zero (default) leaves s as the layers hold
        it. The weight noise is data-independent: it has no effect on the privacy accounting.
      private_batch_statistics: allows AuxBatchNorm(statistics="batch"), whose statistics mix
        the private examples of a batch: DP-SGD's per-example sensitivity then fails, so a run
        with it has no formal guarantee (Davody et al. 2020 as published; ``--method=sidp``).
        False (default) refuses such layers.
      physical_batch_size: P, the most rows one forward and backward pass takes (virtual
        batches, METHODS.md section 4). A logical Poisson batch of any size runs in chunks of P
        rows (the last padded and masked to P, so one compiled shape serves every chunk); the
        clipped sums are accumulated over the chunks, and the noise, the division by B, the
        optimizer update and ``dp_steps`` come once per logical step. Peak memory is set by P
        (times K views), not by B. Under tf.distribute P counts the rows of all replicas
        together and must be a multiple of their number. None (default): one pass per batch.
    """

    l2_norm_clip: float
    noise_multiplier: float
    expected_batch_size: int
    clipping: str = "auto"
    clipping_norm: str = "l2"
    linf_p: float | None = None
    augmult: int = 1
    seed: int | None = None
    weight_noise_multiplier: float = 0.0
    private_batch_statistics: bool = False
    physical_batch_size: int | None = None

    def __post_init__(self) -> None:
        validation.positive("l2_norm_clip", self.l2_norm_clip)
        validation.non_negative("noise_multiplier", self.noise_multiplier)
        validation.positive("expected_batch_size", self.expected_batch_size)
        validation.one_of("clipping", self.clipping, CLIPPING_STRATEGIES)
        validation.one_of("clipping_norm", self.clipping_norm, CLIPPING_NORMS)
        check_linf_p(self.clipping_norm, self.linf_p)
        validation.positive("augmult", self.augmult)
        validation.non_negative("weight_noise_multiplier", self.weight_noise_multiplier)
        if self.physical_batch_size is not None:
            validation.positive("physical_batch_size", self.physical_batch_size)

    @property
    def linf_clip(self) -> float | None:
        """C / sqrt(p), the per-coordinate bound of refined clipping; None for plain L2 clipping."""
        return None if self.linf_p is None else self.l2_norm_clip / math.sqrt(self.linf_p)

    @property
    def noise_stddev(self) -> float:
        """Std of the noise added to the clipped sum: sigma * C."""
        return self.noise_multiplier * self.l2_norm_clip


def check_linf_p(clipping_norm: str, linf_p: float | None) -> None:
    """Refined clipping needs p >= 1 (a clamp at C/sqrt(p) <= C); plain L2 clipping takes no p."""
    if clipping_norm == "l2+linf":
        if linf_p is None or not linf_p >= 1:
            raise UsageError(f"Expected linf_p={linf_p!r} >= 1 with clipping_norm='l2+linf' (the paper: p = 100).")
    elif linf_p is not None:
        raise UsageError(f"linf_p={linf_p!r} is only used with clipping_norm='l2+linf'; drop it or set that.")
