"""Tiny validators shared by the config dataclasses.

Messages follow one form, ``Expected noise_multiplier=-1.0 > 0.``, so a user sees the field,
the value given and the rule it broke.
"""

from collections.abc import Iterable
from typing import Any

from dpzoo.common.errors import UsageError


def positive(name: str, value: float) -> None:
    if not value > 0:
        raise UsageError(f"Expected {name}={value!r} > 0.")


def non_negative(name: str, value: float) -> None:
    if not value >= 0:
        raise UsageError(f"Expected {name}={value!r} >= 0.")


def in_open_unit_interval(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise UsageError(f"Expected 0 < {name}={value!r} < 1.")


def one_of(name: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise UsageError(f"Expected {name}={value!r} to be one of {', '.join(map(repr, allowed))}.")
