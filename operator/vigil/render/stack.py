"""Everything a MonitoringStack produces, from the stack and the sinks of its namespace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render.collector import render_collector
from vigil.render.context import RenderContext
from vigil.render.servicemonitor import render_service_monitors


@dataclass(frozen=True)
class SinkSelection:
    """The sinks a stack selects, and the names it asks for that do not exist."""

    sinks: tuple[TelemetrySink, ...]
    missing: tuple[str, ...]


def select_sinks(stack: MonitoringStack, candidates: Sequence[TelemetrySink]) -> SinkSelection:
    """Sinks in the stack's namespace chosen by name or label selector, sorted by name."""
    namespace = stack.metadata.namespace or "default"
    local = {s.metadata.name: s for s in candidates if (s.metadata.namespace or "default") == namespace}
    wanted = stack.spec.sinks
    chosen = {n: local[n] for n in wanted.names if n in local}
    if wanted.selector is not None:
        chosen.update({n: s for n, s in local.items() if wanted.selector.matches(s.metadata.labels)})
    missing = tuple(n for n in wanted.names if n not in local)
    return SinkSelection(tuple(chosen[n] for n in sorted(chosen)), missing)


def render_stack(stack: MonitoringStack, sinks: Sequence[TelemetrySink], ctx: RenderContext) -> list[dict[str, Any]]:
    """Every object for ``stack`` exporting to ``sinks`` (already selected), in apply order."""
    return [*render_collector(stack, sinks, ctx), *render_service_monitors(stack, sinks, ctx)]
