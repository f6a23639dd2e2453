"""An explicit name -> method registry: registering a name twice is an error, and an unknown name
fails with the list of known ones."""

from collections.abc import Iterable

from dpzoo.common.errors import UsageError
from dpzoo.methods.method import Method


class MethodRegistry:
    """The registered methods, by ``Method.name``, in registration order."""

    def __init__(self, methods: Iterable[Method] = ()) -> None:
        self._methods: dict[str, Method] = {}
        for method in methods:
            self.register(method)

    def register(self, method: Method) -> Method:
        if method.name in self._methods:
            raise ValueError(f"Method {method.name!r} is registered twice.")
        self._methods[method.name] = method
        return method

    def get(self, name: str) -> Method:
        if name not in self._methods:
            raise UsageError(f"Unknown method {name!r}; known methods: {', '.join(self._methods)}.")
        return self._methods[name]

    def names(self) -> list[str]:
        return list(self._methods)
