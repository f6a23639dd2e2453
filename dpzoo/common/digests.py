"""SHA-256 digests of files, read in blocks: the zoo's integrity checks and the cards' records
of where a fine-tuning run started from."""

import hashlib

BLOCK = 1 << 20


def update_with_file(digest, path: str) -> None:
    """Feeds the bytes of ``path`` to ``digest`` (a hashlib object), a block at a time."""
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)


def sha256_of(path: str) -> str:
    """The hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    update_with_file(digest, path)
    return digest.hexdigest()
