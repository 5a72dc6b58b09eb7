"""kopf handlers: parse → render → apply → status, one level-based reconcile per kind."""

from __future__ import annotations

import kopf

from vigil.handlers import policy, sink, stack
from vigil.settings import Settings


def build_registry(settings: Settings) -> kopf.OperatorRegistry:
    """Every handler, index and timer of the operator, with intervals from ``settings``."""
    registry = kopf.OperatorRegistry()
    stack.register(registry, settings)
    sink.register(registry, settings)
    policy.register(registry, settings)
    return registry
