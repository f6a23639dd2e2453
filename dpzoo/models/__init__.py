"""dpzoo.models: Keras model definitions, registered by name.

``get(name, **kwargs)`` builds a fresh model; ``names()`` lists them. ``get`` also builds
keras.applications models by their Keras names (dpzoo.models.applications). Every family module is
imported here explicitly, so registration happens in one known place.
"""

from dpzoo.common.stack import keras
from dpzoo.models import (  # noqa: F401  (registers the families)
    applications,
    lenet,
    nf_resnet,
    resnet,
    scatternet,
    text,
    tutorial_cnn,
    wide_resnet,
)
from dpzoo.models.registry import REGISTRY

names = REGISTRY.names


def get(name: str, **kwargs) -> keras.Model:
    """A fresh model ``name``: a registered one, or a keras.applications one by its Keras name."""
    if applications.is_application(name):
        return applications.get(name, **kwargs)
    return REGISTRY.get(name, **kwargs)


__all__ = ["get", "names"]
