"""The one error renderers raise: a user mistake only visible across objects."""

from __future__ import annotations


class RenderError(ValueError):
    """A spec that is valid alone but cannot be rendered (e.g. two sinks on one port).

    ``path`` names the field to fix, e.g. ``TelemetrySink/prom-b: spec.prometheus.port``.
    """

    def __init__(self, path: str, message: str, reason: str = "InvalidConfig") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.reason = reason

    @property
    def object(self) -> str:
        """``Kind/name`` of the object to fix."""
        return self.path.split(": ", 1)[0]

    @property
    def field(self) -> str:
        """The field to fix inside that object, e.g. ``spec.prometheus.port``."""
        return self.path.split(": ", 1)[-1]
