"""Rewrites run folders' checkpoints from dpzoo's old format (the Keras 2 object graph under
``model``) into the format both Keras 2 and Keras 3 read (dpzoo.artifacts.weights: the weights
keyed by name), with the same values, checked bitwise after the write. Retrains nothing.

  DPZOO_KERAS=2 .venv/bin/python scripts/convert_checkpoints.py [RUN_DIR ...]

Without RUN_DIRs it converts the zoo's checkpoints (dpzoo/zoo/checkpoints/) and writes each
entry's new sha256 into the zoo's index, last, so an interrupted conversion leaves the previous
index in place. A folder already in the new format is left as it is. Runs on Keras 2 only: the
old format is an object graph only Keras 2 binds.
"""

import dataclasses
import os
import shutil
import sys
import tempfile

import numpy as np

from dpzoo import zoo
from dpzoo.artifacts import model_card, run_folder, weights
from dpzoo.common import keras_api
from dpzoo.zoo import registry


def convert(run_dir: str) -> bool:
    """Converts ``run_dir``'s checkpoint in place; False when it was in the new format already."""
    path = os.path.join(run_dir, run_folder.CHECKPOINT)
    if weights.WEIGHTS in weights.stored_objects(path):
        return False
    model, _ = run_folder.load_run(run_dir)  # reads the old format (Keras 2)
    values = {name: v.numpy() for name, v in weights.by_name(model).items()}
    staging = tempfile.mkdtemp(prefix=".convert-", dir=run_dir)
    try:
        written = weights.checkpoint(model).write(os.path.join(staging, os.path.basename(path)))
        check = run_folder.model_from_card(model_card.read(run_dir))
        weights.read(check, written)
        for name, v in weights.by_name(check).items():
            np.testing.assert_array_equal(v.numpy(), values[name], err_msg=f"{run_dir}: {name}")
        for suffix in (".index", ".data-00000-of-00001"):
            os.replace(written + suffix, path + suffix)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def convert_zoo() -> None:
    entries = []
    for entry in zoo.list():
        folder = os.path.join(zoo.CHECKPOINT_DIR, entry.name)
        changed = convert(folder)
        files = {f: zoo.sha256_of(os.path.join(folder, f)) for f in entry.files}
        entries.append(dataclasses.replace(entry, files=files))
        print(f"{entry.name}: {'converted' if changed else 'already converted'}")
    registry.write_index(entries)


def main(argv: list[str]) -> int:
    if keras_api.KERAS_3:
        print("Run this on Keras 2 (DPZOO_KERAS=2): the old format is an object graph only Keras 2 binds.")
        return 2
    if not argv:
        convert_zoo()
        return 0
    for run_dir in argv:
        print(f"{run_dir}: {'converted' if convert(run_dir) else 'already converted'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
