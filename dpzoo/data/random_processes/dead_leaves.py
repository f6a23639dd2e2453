"""Dead leaves: opaque shapes fallen on top of each other (Matheron 1968; Lee, Mumford & Huang
2001), the best procedural family of Baradad et al. 2021 among the simple ones ("dead leaves -
mixed": discs and rotated squares of random colour).

Shape sizes follow p(r) ~ r^-3 on [r_min, r_max] (fractions of the image's shorter side), the
density under which the model is scale invariant, as natural images roughly are. Shapes are
painted front to back: a pixel keeps the colour of the first shape that covers it, and drawing
stops once every pixel is covered (or after ``MAX_SHAPES``; the rest keeps a background colour).
Each image is a function of its own generator alone, so any image can be drawn on its own.
"""

import numpy as np

R_MIN, R_MAX = 0.03, 1.0  # Baradad et al.'s dead-leaves range, as fractions of the image side
MAX_SHAPES = 5000
SHAPES_PER_ROUND = 64  # painted at once, one vectorised round at a time


def radii(rng: np.random.Generator, count: int, r_min: float = R_MIN, r_max: float = R_MAX) -> np.ndarray:
    """``count`` radii with density proportional to r^-3 on [r_min, r_max], by inverting its CDF
    F(r) = (r_min^-2 - r^-2) / (r_min^-2 - r_max^-2)."""
    u = rng.random(count)
    return (r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5


def _covered(y, x, centres, sizes, angles, discs) -> np.ndarray:
    """[shapes, pixels]: which of the pixels at (y, x) each shape covers (a disc, or a square of
    half-side r rotated by its angle)."""
    dy = y[None] - centres[:, :1]
    dx = x[None] - centres[:, 1:]
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    u, v = cos * dx + sin * dy, cos * dy - sin * dx
    r = sizes[:, None]
    disc = dx**2 + dy**2 <= r**2
    square = np.maximum(np.abs(u), np.abs(v)) <= r
    return np.where(discs[:, None], disc, square)


def draw(rng: np.random.Generator, height: int, width: int, channels: int, r_min: float = R_MIN) -> np.ndarray:
    """One dead-leaves image, float32 in [0, 1], [height, width, channels]; ``r_min``: the smallest
    shape's radius (the finest detail), a fraction of the shorter side."""
    side = min(height, width)
    image = np.tile(rng.random(channels, dtype=np.float32), (height * width, 1))  # the background
    free = np.arange(height * width)  # pixels no shape covers yet: only these are tested
    y, x = free // width + 0.5, free % width + 0.5
    for _ in range(MAX_SHAPES // SHAPES_PER_ROUND):
        n = SHAPES_PER_ROUND
        centres = rng.random((n, 2)) * [height, width]
        sizes = radii(rng, n, r_min=r_min) * side
        angles = rng.random(n) * np.pi / 2
        discs = rng.random(n) < 0.5
        colours = rng.random((n, channels), dtype=np.float32)
        masks = _covered(y, x, centres, sizes, angles, discs)
        hit = masks.any(axis=0)
        image[free[hit]] = colours[np.argmax(masks[:, hit], axis=0)]  # the round's first (frontmost) shape
        free, y, x = free[~hit], y[~hit], x[~hit]
        if not free.size:
            break
    return image.reshape(height, width, channels)
