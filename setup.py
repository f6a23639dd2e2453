"""dpzoo: a TensorFlow/Keras model zoo for differentially private deep learning.

The paper configs under the top-level folder train/ install as dpzoo.train.configs, so no generic
top-level name lands in site-packages, and the paths in their commands (train/configs/...) are the
repository's.
"""

import pathlib
import re

from setuptools import find_packages, setup

ROOT = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (ROOT / "dpzoo" / "version.py").read_text()).group(1)

setup(
    name="dpzoo",
    version=VERSION,
    description="Keras model zoo for differentially private deep learning",
    long_description=(ROOT / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.14",
    # Every package is found, none listed by hand: dpzoo's own, and the configs under train/ mapped
    # into the dpzoo namespace (a config folder added later ships without an edit here).
    packages=[
        *find_packages(include=["dpzoo", "dpzoo.*"]),
        *(f"dpzoo.{name}" for name in find_packages(include=["train", "train.*"])),
    ],
    package_dir={"dpzoo": "dpzoo", "dpzoo.train": "train"},
    package_data={
        "dpzoo.zoo": [
            "checkpoints/index.json",
            "checkpoints/backbones.json",
            "checkpoints/*/*",
            "checkpoints/*/checkpoint/*",
        ]
    },
    # Ranges a user's pip can resolve; requirements.lock pins what CI tests. TF Privacy is not among
    # them: it declares Python < 3.12 and TensorFlow <= 2.15, so pip refuses it as a dependency, and
    # it is installed by its own step (requirements-nodeps.lock, README "TF Privacy on this stack").
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tf-keras>=2.21,<2.22",
        "tensorboard>=2.21,<2.22",
        "dp-accounting>=0.6,<0.7",
        "tensorflow-datasets>=4.9.10,<5",
        "importlib-resources>=6",  # tensorflow-datasets imports it without declaring it
        "array-record>=0.8",
        "absl-py>=2,<3",
        "numpy>=1.26,<3",
        "scipy>=1.13",
        "scikit-learn>=1.5,<1.7",  # TF Privacy's attack library uses sklearn.utils.parallel_backend
        "matplotlib>=3.8",
        "pandas>=2",  # the attack library's imports (installed without its declared deps)
        "statsmodels>=0.14",
        "immutabledict>=2",
        "psutil>=5",
        "kymatio>=0.3,<0.4",  # ScatterNets (dpzoo.layers.Scattering2D)
    ],
    extras_require={
        "test": ["pytest", "pytest-xdist", "ruff", "import-linter", "tensorflow-serving-api>=2.21,<2.22", "build"],
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
        "hub": ["keras-hub>=0.32,<0.33"],  # --init_from=keras_hub:PRESET (dpzoo.models.hub)
    },
    entry_points={
        "console_scripts": [
            "dpzoo-train=dpzoo.cli.train:run",
            "dpzoo-privacy=dpzoo.cli.privacy:run",
            "dpzoo-export=dpzoo.cli.export:run",
            "dpzoo-bench=dpzoo.cli.bench:run",
            "dpzoo-audit=dpzoo.cli.audit:run",
            "dpzoo-zoo=dpzoo.cli.zoo:run",
        ]
    },
)
