"""dpzoo.models: Keras model definitions, registered by name.

``get(name, **kwargs)`` builds a fresh model; ``names()`` lists them. Every family module is
imported here explicitly, so registration happens in one known place.
"""

from dpzoo.models import (  # noqa: F401  (registers the families)
    lenet,
    nf_resnet,
    resnet,
    scatternet,
    text,
    tutorial_cnn,
    wide_resnet,
)
from dpzoo.models.registry import REGISTRY

get = REGISTRY.get
names = REGISTRY.names

__all__ = ["get", "names"]
