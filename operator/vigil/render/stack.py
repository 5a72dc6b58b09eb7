"""Every object of a MonitoringStack, from the stack and its already built collector config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vigil.models.stack import MonitoringStack
from vigil.render import meta
from vigil.render.alerts import render_stack_alertmanager_config
from vigil.render.bundles import alert_severities, render_rule_bundles
from vigil.render.collector import render_collector
from vigil.render.collector_config import CollectorConfig
from vigil.render.context import RenderContext
from vigil.render.dashboards import Apply, RenderWarning, render_dashboards
from vigil.render.errors import RenderError
from vigil.render.servicemonitor import prometheus_labels, render_service_monitors


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
    stack: MonitoringStack, config: CollectorConfig, ctx: RenderContext, apply: Apply = "server-side"
) -> StackRender:
    """Every object for ``stack`` running ``config``, in apply order.

    Raises RenderError when a rule bundle or threshold is unknown, or when two objects would get
    one name (sinks or scrape entries whose names differ only where names are cut or hashed).
    """
    owner = meta.owner_of(stack, ctx.uid)
    bundles = tuple(b.name for b in stack.spec.rule_bundles)
    dashboards = render_dashboards(owner, stack.spec.dashboards, bundles=bundles, apply=apply)
    labels = prometheus_labels(stack, ctx)
    objects = [
        *render_collector(stack, config, ctx),
        *render_service_monitors(stack, config, ctx),
        *render_rule_bundles(
            owner, stack.spec.rule_bundles, labels, cluster_rule_namespaces=ctx.cluster_rule_namespaces
        ),
        *render_stack_alertmanager_config(owner, stack.spec.alerting, alert_severities(bundles), labels),
        *dashboards.objects,
    ]
    _check_unique(stack, objects)
    return StackRender(objects, dashboards.warnings, dashboards.errors, dashboards.selected, bundles)


def _check_unique(stack: MonitoringStack, objects: list[dict[str, Any]]) -> None:
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        if key in seen:
            raise RenderError(
                f"MonitoringStack/{stack.metadata.name}: metadata.name",
                f'{key[0]} "{key[1]}" would be generated twice for this stack; rename the sink or '
                "scrape entry it is named after",
                reason="NameConflict",
            )
        seen.add(key)
