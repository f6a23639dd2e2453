"""dpzoo.zoo: pretrained private checkpoints, the public backbones to fine-tune from, and what is
done with them.

``list()``, ``backbones()`` and ``load(name)`` read the sha256-checked registry of checkpoints
(``registry``; the shipped ones live in ``checkpoints/``); ``serving`` exports them in TF Serving's layout; ``audit``
runs membership-inference attacks on a run or a checkpoint; ``plots`` draws results from cards.
"""

from dpzoo.zoo.registry import (
    CHECKPOINT_DIR,
    PAPERS,
    BackboneEntry,
    ZooEntry,
    ZooIntegrityError,
    backbones,
    cache_dir,
    entry,
    fetch,
    list,  # the zoo's public name: dpzoo.zoo.list()
    load,
    lookup,
    read_backbones,
    read_index,
    sha256_of,
    verify,
)

__all__ = [
    "CHECKPOINT_DIR",
    "BackboneEntry",
    "PAPERS",
    "ZooEntry",
    "ZooIntegrityError",
    "backbones",
    "cache_dir",
    "entry",
    "fetch",
    "list",
    "load",
    "lookup",
    "read_backbones",
    "read_index",
    "sha256_of",
    "verify",
]
