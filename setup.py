"""dpzoo: a TensorFlow/Keras model zoo for differentially private deep learning.

The top-level folders models/ and train/ install as dpzoo.models and dpzoo.train, so no
generic top-level names land in site-packages.
"""

import pathlib
import re

from setuptools import setup

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
        "dpzoo",
        "dpzoo.models",
        "dpzoo.train",
        "dpzoo.train.configs",
        "dpzoo.train.configs.fashion_mnist",
        "dpzoo.train.configs.de22",
        "dpzoo.train.configs.sidp",
        "dpzoo.train.configs.modelmix",
    ],
    package_dir={
        "dpzoo": "dpzoo",
        "dpzoo.models": "models",
        "dpzoo.train": "train",
        "dpzoo.train.configs": "train/configs",
        "dpzoo.train.configs.fashion_mnist": "train/configs/fashion_mnist",
        "dpzoo.train.configs.de22": "train/configs/de22",
        "dpzoo.train.configs.sidp": "train/configs/sidp",
        "dpzoo.train.configs.modelmix": "train/configs/modelmix",
    },
    package_data={"dpzoo": ["checkpoints/index.json", "checkpoints/*/*", "checkpoints/*/checkpoint/*"]},
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
        "test": ["pytest", "ruff"],
        "gpu": ["tensorflow[and-cuda]==2.15.1"],
    },
    entry_points={
        "console_scripts": [
            "dpzoo-train=dpzoo.train.train:run",
            "dpzoo-privacy=dpzoo.train.privacy:run",
            "dpzoo-export=dpzoo.train.export:run",
            "dpzoo-bench=dpzoo.train.bench:run",
            "dpzoo-audit=dpzoo.train.audit:run",
            "dpzoo-zoo=dpzoo.train.zoo:run",
        ]
    },
)
