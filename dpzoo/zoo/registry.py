"""The zoo's checkpoint registry: pretrained private checkpoints with their model cards, and the
public backbones they can be fine-tuned from, verified before they load.

``dpzoo.zoo.list()`` gives every entry; ``dpzoo.zoo.load(name)`` returns a compiled Keras model
that takes images with pixels in [0, 1] and returns logits, and its model card:

    from dpzoo import zoo
    model, card = zoo.load("tutorial_cnn.fmnist_eps3_dpsgd")
    model.evaluate(test_images / 255.0, test_labels)

Each entry (``ZooEntry``, keyed ``arch.tag`` with the privacy result in the tag) is a frozen record
of what was trained and what it guarantees: model, method, dataset, epsilon, delta, accountant,
sampling, guarantee type, test accuracy, membership-inference audit, the exact training command,
and the sha256 of every file. Small checkpoints ship inside the package (dpzoo/zoo/checkpoints/NAME/);
an entry with a ``url`` is fetched from it into a local cache (``$DPZOO_CACHE``, default
~/.cache/dpzoo). Every file is hash-checked before anything is read from it: a missing or altered
file is refused, never loaded.

``backbones()`` lists the public backbones (``BackboneEntry``, in ``backbones.json``): models
trained without privacy on data that is public by construction (images drawn from random
processes), so they state no epsilon and cost a private run that starts from them nothing; their
cards name that data. ``load`` and ``fetch`` take either kind; ``entry`` is the private ones'.
"""

import builtins
import dataclasses
import json
import os
import types
from collections.abc import Mapping
from typing import Any

from dpzoo import methods
from dpzoo.artifacts import run_folder
from dpzoo.common.digests import sha256_of
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.training import pretrained

CHECKPOINT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints")
INDEX = "index.json"
BACKBONE_INDEX = "backbones.json"
PAPERS = {name: methods.get(name).paper for name in methods.names()}  # a method's paper, by --method


class ZooIntegrityError(UsageError):
    """A checkpoint file is missing, or its sha256 is not the one the zoo's index records."""


class _Record:
    """An index record, frozen (its mappings read-only too): ``to_dict`` is what the index file holds of it."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Mapping):
                object.__setattr__(self, field.name, types.MappingProxyType(dict(value)))

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ZooEntry(_Record):
    """One pretrained checkpoint: what it is, what it guarantees, and how to check its files."""

    name: str
    model: str
    method: str
    paper: str
    dataset: str
    epsilon: float
    delta: float
    accountant: str
    sampling: str
    guarantee: str  # "formal" or "nominal"
    test_accuracy: float
    audit: Mapping[str, float]  # attack -> implied epsilon lower bound
    command: str
    files: Mapping[str, str]  # path inside the checkpoint folder -> sha256
    url: str | None = None  # None: shipped inside the package
    canary_audit: Mapping[str, Any] | None = None  # its recipe's one-run canary audit (card: recipe_canary_audit)


@dataclasses.dataclass(frozen=True, kw_only=True)
class BackboneEntry(_Record):
    """One public backbone: what it is, the public data it saw, and how to check its files. It has
    no privacy statement: nothing private went into it."""

    name: str
    model: str
    paper: str
    dataset: str  # a dataset public by construction (dpzoo.data.RANDOM_PROCESS_DATASETS)
    data_source: str
    task: str  # what it was trained to do on that data
    test_accuracy: float  # on that task's held-out split
    audit: Mapping[str, float]  # attack -> implied epsilon lower bound (what it leaks of its public data)
    command: str
    files: Mapping[str, str]  # path inside the checkpoint folder -> sha256
    url: str | None = None  # None: shipped inside the package


def _plain(value):
    return dict(value) if isinstance(value, Mapping) else value


def cache_dir() -> str:
    return os.environ.get("DPZOO_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "dpzoo"))


def _read(path: str, kind: type) -> builtins.list:
    try:
        with open(path) as f:
            records = json.load(f)
        return [kind(**record) for record in records]
    except (OSError, ValueError, TypeError) as e:
        raise UsageError(f"The zoo's index {path} is unreadable: {e}. Reinstall dpzoo.") from e


def read_index(directory: str = CHECKPOINT_DIR) -> builtins.list[ZooEntry]:
    """The private checkpoints of the index in ``directory``, in the index's order."""
    return _read(os.path.join(directory, INDEX), ZooEntry)


def read_backbones(directory: str = CHECKPOINT_DIR) -> builtins.list[BackboneEntry]:
    """The public backbones listed in ``directory``, in their file's order."""
    return _read(os.path.join(directory, BACKBONE_INDEX), BackboneEntry)


def write_index(
    entries: builtins.list[ZooEntry] | builtins.list[BackboneEntry],
    directory: str = CHECKPOINT_DIR,
    name: str = INDEX,
) -> None:
    """Replaces the index ``name`` (private checkpoints; ``BACKBONE_INDEX`` for the public
    backbones) in ``directory`` with ``entries`` at once: a failed write leaves the previous one."""
    path = os.path.join(directory, name)
    with open(path + ".partial", "w") as f:
        json.dump([e.to_dict() for e in entries], f, indent=1)
        f.write("\n")
    os.replace(path + ".partial", path)


def list() -> builtins.list[ZooEntry]:  # noqa: A001  (the zoo's public name: dpzoo.zoo.list())
    """Every checkpoint of the zoo."""
    return read_index()


def backbones() -> builtins.list[BackboneEntry]:
    """Every public backbone of the zoo."""
    return read_backbones()


def entry(name: str) -> ZooEntry:
    """The private checkpoint called ``name``; UsageError naming the known ones otherwise."""
    entries = {e.name: e for e in read_index()}
    if name in entries:
        return entries[name]
    if name in {b.name for b in read_backbones()}:
        raise UsageError(
            f"{name} is a public backbone (dpzoo-zoo list), not a private checkpoint: it states no epsilon."
        )
    raise UsageError(f"No zoo checkpoint {name!r}; known: {', '.join(entries)}.")


def lookup(name: str) -> ZooEntry | BackboneEntry:
    """The private checkpoint or public backbone called ``name``; UsageError naming both otherwise."""
    entries = {e.name: e for e in [*read_index(), *read_backbones()]}
    if name not in entries:
        raise UsageError(f"No zoo checkpoint or backbone {name!r}; known: {', '.join(entries)}.")
    return entries[name]


def verify(folder: str, zoo_entry: ZooEntry | BackboneEntry) -> None:
    """Raises ZooIntegrityError unless every file of the entry is in ``folder`` with its sha256."""
    for relative, expected in zoo_entry.files.items():
        path = os.path.join(folder, relative)
        if not os.path.isfile(path):
            raise ZooIntegrityError(f"{zoo_entry.name}: {path} is missing. Reinstall dpzoo or clear {cache_dir()}.")
        actual = sha256_of(path)
        if actual != expected:
            raise ZooIntegrityError(
                f"{zoo_entry.name}: {path} has sha256 {actual}, the zoo's index records {expected}; the file is "
                f"altered or corrupt and will not be loaded. Reinstall dpzoo or clear {cache_dir()}."
            )


def fetch(zoo_entry: ZooEntry | BackboneEntry) -> str:
    """The verified local folder of the entry's files: the package's own, or the cache, downloading
    into it from the entry's URL whatever is missing or does not match."""
    if zoo_entry.url is None:
        folder = os.path.join(CHECKPOINT_DIR, zoo_entry.name)
        verify(folder, zoo_entry)
        return folder
    folder = os.path.join(cache_dir(), zoo_entry.name)
    for relative, expected in zoo_entry.files.items():  # each file hashed once: cached, or as downloaded
        path = os.path.join(folder, relative)
        if not (os.path.isfile(path) and sha256_of(path) == expected):
            _download(f"{zoo_entry.url.rstrip('/')}/{relative}", path, expected, zoo_entry.name)
    return folder


def _download(url: str, path: str, expected: str, name: str) -> None:
    """Fetches ``url`` to ``path`` through a temporary file, kept only if its sha256 matches."""
    import urllib.error
    import urllib.request

    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial"
    try:
        urllib.request.urlretrieve(url, partial)
    except (urllib.error.URLError, OSError) as e:
        if os.path.exists(partial):
            os.remove(partial)
        raise UsageError(f"{name}: cannot download {url} ({e}). Are you offline? Try again when online.") from e
    actual = sha256_of(partial)
    if actual != expected:
        os.remove(partial)
        raise ZooIntegrityError(
            f"{name}: {url} has sha256 {actual}, the zoo's index records {expected}; not saved, not loaded."
        )
    os.replace(partial, path)


def load(name: str) -> tuple[keras.Model, dict]:
    """(compiled Keras model taking [0, 1] images and returning logits, model card) of a zoo
    checkpoint or public backbone, after its files are verified."""
    zoo_entry = lookup(name)
    inner, card = run_folder.load_run(fetch(zoo_entry))
    preprocess = run_folder.preprocessor_from_card(card)
    inputs = keras.Input(tuple(card["dataset"]["input_shape"]), dtype=preprocess.dtype, name="images")
    # a layer, not TensorFlow ops on the Input: Keras 3 takes no TensorFlow function of a KerasTensor
    preprocessed = keras.layers.Lambda(preprocess.from_unit_range, name="preprocess")(inputs)
    outputs = inner(preprocessed, training=False)
    model = keras.Model(inputs, outputs, name=name.replace(".", "_"))
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model, card


def _named_folder(name: str) -> str | None:
    """A zoo checkpoint's or backbone's verified folder by its name; None for a folder of that name
    here (it comes first) or a name the zoo does not have."""
    found = None if os.path.isdir(name) else {e.name: e for e in [*read_index(), *read_backbones()]}.get(name)
    return None if found is None else fetch(found)


pretrained.register_named_starts(_named_folder)  # --init_from=NAME: the card keeps the name
