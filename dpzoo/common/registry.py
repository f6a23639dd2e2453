"""An explicit name -> item registry, shared by the model and method registries: registering a
name twice is an error, and an unknown name fails with the list of known ones."""

from collections.abc import Iterable
from typing import Generic, TypeVar

from dpzoo.common.errors import UsageError

Item = TypeVar("Item")


class Registry(Generic[Item]):
    """Items of one ``kind`` ("model", "method") by name; ``names()`` in registration order, or
    sorted with ``sorted_names``."""

    def __init__(self, kind: str, items: Iterable[tuple[str, Item]] = (), *, sorted_names: bool = False) -> None:
        self.kind = kind
        self.sorted_names = sorted_names
        self._items: dict[str, Item] = {}
        for name, item in items:
            self.add(name, item)

    def add(self, name: str, item: Item) -> Item:
        if name in self._items:
            raise ValueError(f"{self.kind.capitalize()} {name!r} is registered twice.")
        self._items[name] = item
        return item

    def get(self, name: str) -> Item:
        if name not in self._items:
            raise UsageError(f"Unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.names())}.")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items) if self.sorted_names else list(self._items)
