"""The data path of a MonitoringStack, top to bottom; the operator and `vigil render` both use it.

    documents ─parse─▶ stack + the sinks it selects ─build─▶ collector config (built once)
        ─(versions of the Secrets/ConfigMaps it reads: the only I/O, done by the caller)─▶
        ─plan─▶ every child object, rendered from that config, and the stack's status fields

Pure: no API calls. Problems are RenderErrors (``Kind/name: field`` and a message): the operator
turns them into conditions and Events, `vigil validate` into lines naming file and field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vigil.destinations.prometheus import PrometheusDestination
from vigil.models.common import ObjectReference
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack, MonitoringStackStatus
from vigil.parse import Problem, parse_as
from vigil.render.collector import config_hash
from vigil.render.collector_config import CollectorConfig, build_collector_config
from vigil.render.context import RenderContext
from vigil.render.dashboards import Apply, RenderWarning
from vigil.render.errors import RenderError
from vigil.render.stack import render_stack

Finding = RenderError | RenderWarning
"""Something wrong with one field of one object: ``path`` (``Kind/name: field``), ``message``, ``reason``."""


def problems_message(problems: Sequence[Problem]) -> str:
    """Problems as one message: ``path: message; path: message``."""
    return "; ".join(f"{p.path}: {p.message}" for p in problems)


@dataclass(frozen=True)
class StackBuild:
    """A stack, the sinks it selects, and its collector config (or why it cannot be built)."""

    stack: MonitoringStack
    sinks: tuple[TelemetrySink, ...] = ()
    config: CollectorConfig | None = None
    error: RenderError | None = None
    warnings: tuple[Finding, ...] = ()
    """Selected sinks that are missing or invalid (left out; the rest still rolls out)."""


def select_sinks(stack: MonitoringStack, candidates: Sequence[TelemetrySink]) -> tuple[list[TelemetrySink], list[str]]:
    """The sinks of the stack's namespace it selects, by name; and the names it asks for that are absent."""
    namespace = stack.metadata.namespace or "default"
    local = {s.metadata.name: s for s in candidates if (s.metadata.namespace or "default") == namespace}
    wanted = stack.spec.sinks
    chosen = [local[n] for n in sorted(local) if wanted.selects(n, local[n].metadata.labels)]
    return chosen, [n for n in wanted.names if n not in local]


def missing_sink(stack: MonitoringStack, name: str) -> RenderError:
    """The problem of a sink the stack names that its namespace does not hold."""
    return RenderError(
        f"MonitoringStack/{stack.metadata.name}: spec.sinks.names[{stack.spec.sinks.names.index(name)}]",
        f'TelemetrySink "{name}" not found in namespace "{stack.metadata.namespace}"; create it or remove the name',
        reason="SinkNotFound",
    )


HEALTH_CHECKS_BUNDLE = "health-checks"


def prefixed_health_checks(stack: MonitoringStack, sinks: Sequence[TelemetrySink]) -> list[Finding]:
    """Prometheus sinks whose ``namespace`` renames the health checks' metrics past what the
    health-checks rule bundle and dashboard the stack selects read (``httpcheck_*``)."""
    wanted = {b.name for b in stack.spec.rule_bundles} | set(stack.spec.dashboards.names)
    if not stack.spec.health_checks or HEALTH_CHECKS_BUNDLE not in wanted:
        return []
    out: list[Finding] = []
    for s in sinks:
        _, settings = s.spec.destination
        if isinstance(settings, PrometheusDestination) and settings.namespace:
            out.append(
                RenderWarning(
                    f"TelemetrySink/{s.metadata.name}: spec.prometheus.namespace",
                    f"turns the health checks' metrics into {settings.namespace}_httpcheck_*, which the "
                    "health-checks rule bundle and dashboard do not read: remove namespace, or send the "
                    "checks' metrics through another sink",
                    "HealthCheckMetricsRenamed",
                )
            )
    return out


def build_stack(
    stack: MonitoringStack, candidates: Sequence[TelemetrySink], invalid: Mapping[str, str] | None = None
) -> StackBuild:
    """Select the stack's sinks and build its collector config once.

    ``invalid`` maps the names of selected sinks that failed validation to why: they are left
    out with a warning, like sinks that do not exist.
    """
    invalid = invalid or {}
    sinks, missing = select_sinks(stack, candidates)
    warnings: list[Finding] = [
        RenderError(f"TelemetrySink/{name}", f"is invalid and left out: {why}", reason="InvalidSink")
        for name, why in sorted(invalid.items())
    ]
    warnings += [missing_sink(stack, n) for n in missing if n not in invalid]
    try:
        config = build_collector_config(stack, sinks)
    except RenderError as exc:
        return StackBuild(stack, tuple(sinks), error=exc, warnings=tuple(warnings))
    warnings += prefixed_health_checks(stack, sinks)
    return StackBuild(stack, tuple(sinks), config, warnings=tuple(warnings))


def build_from_documents(
    stack_doc: Mapping[str, Any], sink_docs: Sequence[Mapping[str, Any]]
) -> StackBuild | list[Problem]:
    """Parse a stack and, of the sink documents of its namespace, only those it selects; then build.

    The stack's own problems come back as a list; invalid sinks become warnings of the build.
    """
    parsed = parse_as(stack_doc, MonitoringStack)
    if isinstance(parsed, list):
        return parsed
    stack = parsed.model
    sinks: list[TelemetrySink] = []
    invalid: dict[str, str] = {}
    for doc in sink_docs:
        meta = doc.get("metadata") or {}
        name, labels = str(meta.get("name", "?")), meta.get("labels") or {}
        if not stack.spec.sinks.selects(name, labels):
            continue  # a namespace may hold many sinks: parse only the selected ones
        result = parse_as(doc, TelemetrySink)
        if isinstance(result, list):
            invalid[name] = problems_message(result)
        else:
            sinks.append(result.model)
    return build_stack(stack, sinks, invalid)


@dataclass(frozen=True)
class StackPlan:
    """The objects to apply and the stack's status fields, or why nothing may be applied."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    error: RenderError | None = None
    warnings: tuple[Finding, ...] = ()
    status: MonitoringStackStatus | None = None
    """The stack's own status fields (conditions are added by vigil.status)."""
    left_out: tuple[RenderError, ...] = ()
    """Objects that were not rendered (dashboards too large); also among the warnings."""


def plan_stack(
    build: StackBuild,
    versions: Mapping[tuple[str, str], str | None],
    ctx: RenderContext,
    apply: Apply = "server-side",
) -> StackPlan:
    """Render every child of the stack from its built config.

    ``versions`` are the resourceVersions of the objects the collector reads (None: missing; a
    change rolls the collector). Offline they are unknown: pass "" for each.
    """
    if build.error is not None or build.config is None:
        return StackPlan(error=build.error, warnings=build.warnings)
    config = build.config
    missing = [ref for ref in config.referenced if versions.get(ref) is None]
    if missing:
        kind, name = missing[0]
        where = config.referenced_by.get(missing[0], "a selected sink")
        namespace = build.stack.metadata.namespace
        message = f'{kind} "{name}" not found in namespace "{namespace}"; create it, or fix the reference'
        error = RenderError(where, message, reason=f"{kind}NotFound")
        return StackPlan(error=error, warnings=build.warnings)
    full = dataclasses.replace(ctx, ref_versions={ref: versions[ref] or "" for ref in config.referenced})
    try:
        rendered = render_stack(build.stack, config, full, apply)
    except RenderError as exc:
        return StackPlan(error=exc, warnings=build.warnings)
    status = MonitoringStackStatus(
        selected_sinks=[s.metadata.name for s in build.sinks],
        sink_count=len(build.sinks),
        generated_objects=[
            ObjectReference(api_version=o["apiVersion"], kind=o["kind"], name=o["metadata"]["name"])
            for o in rendered.objects
        ],
        config_hash=config_hash(config, full),
        selected_bundles=list(rendered.bundles),
        selected_dashboards=list(rendered.dashboards),
    )
    warnings = (*build.warnings, *rendered.warnings, *rendered.left_out)
    return StackPlan(rendered.objects, None, warnings, status, rendered.left_out)
