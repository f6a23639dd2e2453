"""An explicit name -> builder registry for Keras models.

Registering a name twice is an error; an unknown name fails with the list of known ones.
"""

from collections.abc import Callable

import tensorflow as tf

from dpzoo.common.errors import UsageError

Builder = Callable[..., tf.keras.Model]


class ModelRegistry:
    """Builders by name; each builder returns a fresh, uncompiled Keras model."""

    def __init__(self) -> None:
        self._builders: dict[str, Builder] = {}

    def register(self, builder: Builder) -> Builder:
        """Decorator: registers ``builder`` under its function name."""
        name = builder.__name__
        if name in self._builders:
            raise ValueError(f"Model {name!r} is registered twice.")
        self._builders[name] = builder
        return builder

    def get(self, name: str, **kwargs) -> tf.keras.Model:
        if name not in self._builders:
            raise UsageError(f"Unknown model {name!r}; known models: {', '.join(self.names())}.")
        try:
            return self._builders[name](**kwargs)
        except TypeError as e:
            raise UsageError(f"Bad arguments for model {name!r}: {e}") from e

    def names(self) -> list[str]:
        return sorted(self._builders)


REGISTRY = ModelRegistry()
register = REGISTRY.register
