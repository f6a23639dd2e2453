"""An explicit name -> builder registry for Keras models (dpzoo.common.registry: registering a
name twice is an error; an unknown name fails with the list of known ones)."""

from collections.abc import Callable

from dpzoo.common.errors import UsageError
from dpzoo.common.registry import Registry
from dpzoo.common.stack import keras

Builder = Callable[..., keras.Model]


class ModelRegistry:
    """Builders by name; each builder returns a fresh, uncompiled Keras model."""

    def __init__(self) -> None:
        self._builders: Registry[Builder] = Registry("model", sorted_names=True)

    def register(self, builder: Builder) -> Builder:
        """Decorator: registers ``builder`` under its function name."""
        return self._builders.add(builder.__name__, builder)

    def get(self, name: str, **kwargs) -> keras.Model:
        builder = self._builders.get(name)
        try:
            return builder(**kwargs)
        except TypeError as e:
            raise UsageError(f"Bad arguments for model {name!r}: {e}") from e

    def names(self) -> list[str]:
        return self._builders.names()


REGISTRY = ModelRegistry()
register = REGISTRY.register
