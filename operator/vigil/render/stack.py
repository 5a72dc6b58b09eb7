"""Everything a MonitoringStack produces, from the stack and the sinks of its namespace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render.alerts import render_stack_alertmanager_config
from vigil.render.bundles import alert_severities, render_rule_bundles
from vigil.render.collector import owner_of, render_collector
from vigil.render.context import RenderContext
from vigil.render.dashboards import Apply, RenderWarning, render_dashboards
from vigil.render.errors import RenderError
from vigil.render.servicemonitor import prometheus_labels, render_service_monitors


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


def missing_sink(stack: MonitoringStack, name: str) -> tuple[str, str]:
    """Field path and message for a sink the stack names that its namespace does not hold."""
    return (
        f"spec.sinks.names[{stack.spec.sinks.names.index(name)}]",
        f'TelemetrySink "{name}" not found in namespace "{stack.metadata.namespace}"; create it or remove the name',
    )


@dataclass(frozen=True)
class StackRender:
    """Every object for a stack, and what did not stop them from being applied."""

    objects: list[dict[str, Any]]
    warnings: tuple[RenderWarning, ...] = ()
    left_out: tuple[RenderError, ...] = ()
    """Dashboards too large to apply; everything else is."""
    dashboards: tuple[str, ...] = ()
    bundles: tuple[str, ...] = ()


def render_stack(
    stack: MonitoringStack, sinks: Sequence[TelemetrySink], ctx: RenderContext, apply: Apply = "server-side"
) -> StackRender:
    """Every object for ``stack`` exporting to ``sinks`` (already selected), in apply order.

    Raises RenderError when the collector cannot be built or a rule bundle is unknown.
    """
    owner = owner_of(stack, ctx)
    bundles = tuple(b.name for b in stack.spec.rule_bundles)
    dashboards = render_dashboards(owner, stack.spec.dashboards, bundles=bundles, apply=apply)
    labels = prometheus_labels(stack, ctx)
    objects = [
        *render_collector(stack, sinks, ctx),
        *render_service_monitors(stack, sinks, ctx),
        *render_rule_bundles(
            owner, stack.spec.rule_bundles, labels, cluster_rule_namespaces=ctx.cluster_rule_namespaces
        ),
        *render_stack_alertmanager_config(owner, stack.spec.alerting, alert_severities(bundles), labels),
        *dashboards.objects,
    ]
    return StackRender(objects, dashboards.warnings, dashboards.errors, dashboards.selected, bundles)
