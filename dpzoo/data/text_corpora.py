"""A real labelled text corpus available offline: Debian package descriptions by section.

Every Debian machine with apt lists (after ``apt-get update``) can print the records of all
available packages (``apt-cache dumpavail``); each has a one-line description and a section. The
classification task: predict the section (games, science, sound, graphics, net, admin) from the
description (``debian_tools``: the same for text, web, math, mail, editors and database, other
packages), a short-text task like AG News (which dpzoo loads through tensorflow-datasets when
online). Splits are fixed by a hash of the package name, so they do not depend on the order or
the exact set of packages the mirror lists.

Tokens come from the hashing trick (a word's id is a hash of the word, modulo the vocabulary
size): no vocabulary is built from the (private) training texts, whose rare words it would
otherwise reveal. Id 0 is padding; sequences are cut or right-padded to ``length`` tokens.
"""

import hashlib
import re
import shutil
import subprocess

import numpy as np

from dpzoo.common.errors import DataNotFoundError
from dpzoo.data.dataset import Dataset

SECTIONS = ("games", "science", "sound", "graphics", "net", "admin")
# a second task on other packages (a package has one section): the stand-in private text task of
# fine-tuning a model pretrained on the first (docs/finetuning.md)
TOOL_SECTIONS = ("text", "web", "math", "mail", "editors", "database")
VOCABULARY = 8192
LENGTH = 16
_WORD = re.compile(r"[a-z0-9]+")


def token_ids(text: str, length: int = LENGTH, vocabulary: int = VOCABULARY) -> np.ndarray:
    """The hashed word ids of ``text`` (1 .. vocabulary - 1), cut or padded with 0 to ``length``."""
    words = _WORD.findall(text.lower())[:length]
    ids = [
        1 + int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little") % (vocabulary - 1)
        for w in words
    ]
    return np.array(ids + [0] * (length - len(ids)), np.int32)


def _records() -> str:
    if shutil.which("apt-cache") is None:
        raise DataNotFoundError("debian_descriptions needs a Debian machine (apt-cache not found).")
    text = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=False).stdout
    if "Package:" not in text:
        raise DataNotFoundError("debian_descriptions: apt has no package lists; run apt-get update first.")
    return text


def _in_test_split(package: str, test_fraction: float) -> bool:
    digest = int.from_bytes(hashlib.blake2b(package.encode(), digest_size=8).digest(), "little")
    return digest % 1000 < test_fraction * 1000


def load_debian_descriptions(
    length: int = LENGTH,
    test_fraction: float = 0.2,
    sections: tuple[str, ...] = SECTIONS,
    name: str = "debian_descriptions",
) -> Dataset:
    """Descriptions of the packages in ``sections`` as token ids [N, length] with the section's index."""
    labels = {section: i for i, section in enumerate(sections)}
    seen: set[str] = set()
    rows = {"train": ([], []), "test": ([], [])}
    for record in _records().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in record.splitlines() if ": " in line and not line.startswith(" "))
        package, section = fields.get("Package"), fields.get("Section", "").rsplit("/", 1)[-1]
        if section not in labels or package in seen or not fields.get("Description"):
            continue
        seen.add(package)
        split = "test" if _in_test_split(package, test_fraction) else "train"
        rows[split][0].append(token_ids(fields["Description"], length))
        rows[split][1].append(labels[section])
    (x_train, y_train), (x_test, y_test) = (
        (np.stack(rows[s][0]), np.array(rows[s][1], np.int64)) for s in ("train", "test")
    )
    return Dataset(name, x_train, y_train, x_test, y_test, len(sections), "apt-cache dumpavail")


def load_ag_news(length: int) -> Dataset:
    """AG News (4 classes, 120,000 training and 7,600 test articles) from tensorflow-datasets'
    ag_news_subset: title and description, as hashed token ids."""
    import tensorflow_datasets as tfds  # heavy; only when this source is used

    def arrays(split):
        records = list(tfds.as_numpy(tfds.load("ag_news_subset", split=split)))
        texts = [f"{r['title'].decode()} {r['description'].decode()}" for r in records]
        return np.stack([token_ids(t, length) for t in texts]), np.array([r["label"] for r in records], np.int64)

    (x_train, y_train), (x_test, y_test) = arrays("train"), arrays("test")
    return Dataset("ag_news", x_train, y_train, x_test, y_test, 4, "tensorflow-datasets ag_news_subset")
