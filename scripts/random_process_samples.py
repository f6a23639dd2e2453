"""Draws results/random_processes.png: the first images of each family of dpzoo.data.random_processes
(seed 0, 64x64x3), as docs/data.md shows them. Run: python scripts/random_process_samples.py"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dpzoo.data import random_processes  # noqa: E402

COLUMNS = 8


def main(path: str = "results/random_processes.png") -> None:
    families = sorted(random_processes.FAMILIES)
    figure, axes = plt.subplots(len(families), COLUMNS, figsize=(12, 1.7 * len(families)))
    for row, family in enumerate(families):
        for column in range(COLUMNS):
            axes[row, column].imshow(random_processes.image(family, column, seed=0, height=64, width=64, channels=3))
            axes[row, column].axis("off")
        axes[row, 0].set_title(f"{family} (seed 0, images 0-{COLUMNS - 1})", loc="left", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=80)


if __name__ == "__main__":
    main()
