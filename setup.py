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
    python_requires=">=3.11,<3.12",
    packages=[
        *find_packages(include=["dpzoo", "dpzoo.*"]),
        "dpzoo.train",
        "dpzoo.train.configs",
        "dpzoo.train.configs.fashion_mnist",
        "dpzoo.train.configs.de22",
        "dpzoo.train.configs.sidp",
        "dpzoo.train.configs.modelmix",
    ],
    package_dir={
        "dpzoo": "dpzoo",
        "dpzoo.train": "train",
        "dpzoo.train.configs": "train/configs",
        "dpzoo.train.configs.fashion_mnist": "train/configs/fashion_mnist",
        "dpzoo.train.configs.de22": "train/configs/de22",
        "dpzoo.train.configs.sidp": "train/configs/sidp",
        "dpzoo.train.configs.modelmix": "train/configs/modelmix",
    },
    package_data={"dpzoo.zoo": ["checkpoints/index.json", "checkpoints/*/*", "checkpoints/*/checkpoint/*"]},
    install_requires=[
        "tensorflow==2.15.1",
        "tensorflow-privacy==0.9.0",
        "dp-accounting==0.4.3",
        "tensorflow-datasets==4.9.4",
        "absl-py>=1.0,<2",
        "numpy>=1.23.5,<2",
        "scipy",
        "scikit-learn",
        "tqdm",
    ],
    extras_require={
        "test": ["pytest", "ruff", "import-linter"],
        "gpu": ["tensorflow[and-cuda]==2.15.1"],
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
