"""keras.applications models by their Keras names, e.g. ``keras.applications.MobileNetV3Small``.

``dpzoo.models.get`` builds them like dpzoo's own (``names()`` lists the zoo's models alone), so a
run can start from one (``--init_from``, with ``weights="imagenet"`` downloaded once by Keras)
and its card rebuilds it. They are built with
their classification top, and without their own preprocessing layers where they have them
(``include_preprocessing=False``): dpzoo's input pipeline standardises the images. Their
BatchNormalization layers must be frozen or replaced before private training of them
(dpzoo.privacy.fix_batch_normalization).
"""

import inspect

from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

PREFIX = "keras.applications."


def is_application(name: str) -> bool:
    """Whether ``name`` names a keras.applications model (``PREFIX`` + its class name)."""
    return name.startswith(PREFIX)


def get(name: str, *, input_shape, num_classes: int, weights: str | None = None, **kwargs) -> keras.Model:
    """keras.applications model ``name`` with its top of ``num_classes`` and ``weights``
    (None: random; "imagenet": Keras downloads them once); UsageError for an unknown name."""
    constructor = getattr(keras.applications, name[len(PREFIX) :], None)
    if not name[len(PREFIX) :][:1].isupper() or not callable(constructor):
        known = ", ".join(n for n in dir(keras.applications) if n[:1].isupper())
        raise UsageError(f"Unknown model {name!r}: keras.applications has {known}.")
    if "include_preprocessing" in inspect.signature(constructor).parameters:
        kwargs.setdefault("include_preprocessing", False)
    try:
        return constructor(weights=weights, input_shape=tuple(input_shape), classes=num_classes, **kwargs)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{name} cannot be built for inputs {tuple(input_shape)}: {str(e).splitlines()[0]}") from e
