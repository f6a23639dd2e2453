"""dpzoo.models: Keras model definitions, registered by name.

``get(name, **kwargs)`` builds a fresh model; ``names()`` lists them. Every family module is
imported here explicitly, so registration happens in one known place.
"""

from dpzoo.models import lenet, nf_resnet, resnet, text, tutorial_cnn, wide_resnet  # noqa: F401  (registers the families)
from dpzoo.models.registry import REGISTRY

get = REGISTRY.get
names = REGISTRY.names

__all__ = ["get", "names"]
