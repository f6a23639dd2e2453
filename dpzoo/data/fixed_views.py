"""Fixed views of each example: augmentation multiplicity (De et al. 2022) with views chosen in
advance instead of drawn at random.

Each example enters its step as itself and, optionally, its mirror image (flipped left to right)
and its four shifts by ``shift`` pixels (down, up, right, left; reflect-padded, as the random
crop of dpzoo.data.pipeline pads). The private engine averages the views' gradients before
clipping, so each example still contributes one clipped gradient and the accounting is that of
the run without views. Because the views are fixed, a model with a fixed front (a ScatterNet)
has each view's features computed once, like the images' own (dpzoo.training.precomputed.fixed_front).

Reflect padding and cropping move pixels without changing them, so a view of the preprocessed
images equals the preprocessing of the view of the raw images: the pipeline (on preprocessed
batches) and the fixed front (on raw images) see the same views.
"""

import dataclasses
from collections.abc import Callable

import tensorflow as tf

SHIFT_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (down, right) unit steps: down, up, right, left


def mirrored(images: tf.Tensor) -> tf.Tensor:
    """[b, H, W, C]: each image flipped left to right."""
    return tf.reverse(images, axis=[2])


def shifted(images: tf.Tensor, down: int, right: int) -> tf.Tensor:
    """[b, H, W, C]: each image moved ``down`` rows and ``right`` columns (negative: up, left),
    the uncovered border reflected from the image."""
    pad = max(abs(down), abs(right))
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    return padded[:, pad - down : pad - down + height, pad - right : pad - right + width, :]


@dataclasses.dataclass(frozen=True)
class FixedViews:
    """Which views each example comes as: itself, then its mirror image if ``mirror``, then its
    four shifts by ``shift`` pixels if ``shift`` > 0."""

    mirror: bool = False
    shift: int = 0

    def transforms(self) -> list[tuple[str, Callable[[tf.Tensor], tf.Tensor]]]:
        """(name, view of a [b, H, W, C] batch) for each view after the image itself."""
        out = [("mirrored", mirrored)] if self.mirror else []
        for down, right in SHIFT_DIRECTIONS if self.shift else ():
            down, right = down * self.shift, right * self.shift
            out.append((f"shifted {down:+d},{right:+d}", lambda x, d=down, r=right: shifted(x, d, r)))
        return out

    @property
    def count(self) -> int:
        """K, the views per example (1: the image alone, no fixed views)."""
        return 1 + len(self.transforms())

    def stacked(self, images: tf.Tensor) -> tf.Tensor:
        """[b, H, W, C] -> [b, K, H, W, C]: each image, then its views in ``transforms`` order."""
        return tf.stack([images, *(view(images) for _, view in self.transforms())], axis=1)
