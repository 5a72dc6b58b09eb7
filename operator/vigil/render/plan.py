"""What the operator should do for one MonitoringStack: documents in, objects or issues out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from vigil.models import MonitoringStack, TelemetrySink
from vigil.parse import Parsed, Problem, parse_document
from vigil.render.collector_config import CollectorConfig, build_collector_config
from vigil.render.context import RenderContext
from vigil.render.errors import RenderError
from vigil.render.meta import CONFIG_HASH
from vigil.render.stack import missing_sink, render_stack, select_sinks
from vigil.status import Issue


def problems_message(problems: Sequence[Problem]) -> str:
    """Problems as one message: ``path: message; path: message``."""
    return "; ".join(f"{p.path}: {p.message}" for p in problems)


@dataclass(frozen=True)
class StackInputs:
    """A parsed stack, the sinks it selects, and its collector config (before Secret versions)."""

    stack: MonitoringStack | None = None
    sinks: tuple[TelemetrySink, ...] = ()
    config: CollectorConfig | None = None
    error: Issue | None = None
    warnings: tuple[Issue, ...] = ()


def prepare_stack(doc: Mapping[str, Any], sink_docs: Sequence[Mapping[str, Any]]) -> StackInputs:
    """Parse the stack and its namespace's sinks, select, and build the collector config."""
    parsed = parse_document(dict(doc))
    if not isinstance(parsed, Parsed) or not isinstance(parsed.model, MonitoringStack):
        problems = parsed if isinstance(parsed, list) else []
        return StackInputs(error=Issue("InvalidSpec", problems_message(problems)))
    stack = parsed.model
    wanted = stack.spec.sinks
    warnings: list[Issue] = []
    valid: list[TelemetrySink] = []
    invalid: set[str] = set()
    for sink_doc in sink_docs:
        meta = sink_doc.get("metadata", {})
        name, labels = meta.get("name", "?"), meta.get("labels") or {}
        # Parse only what the stack selects: a namespace may hold many sinks.
        if name not in wanted.names and (wanted.selector is None or not wanted.selector.matches(labels)):
            continue
        result = parse_document(dict(sink_doc))
        if isinstance(result, Parsed) and isinstance(result.model, TelemetrySink):
            valid.append(result.model)
            continue
        invalid.add(name)
        warnings.append(
            Issue(
                "InvalidSink",
                f"TelemetrySink/{name} is invalid and left out: "
                f"{problems_message(result if isinstance(result, list) else [])}",
            )
        )
    selection = select_sinks(stack, valid)
    warnings += [
        Issue("SinkNotFound", ": ".join(missing_sink(stack, n))) for n in selection.missing if n not in invalid
    ]
    try:
        config = build_collector_config(stack, selection.sinks)
    except RenderError as exc:
        return StackInputs(stack, selection.sinks, error=Issue(exc.reason, str(exc)), warnings=tuple(warnings))
    return StackInputs(stack, selection.sinks, config, warnings=tuple(warnings))


@dataclass(frozen=True)
class StackPlan:
    """The objects to apply, or why nothing may be applied, and what else to tell the user."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    error: Issue | None = None
    warnings: tuple[Issue, ...] = ()
    dashboards: tuple[str, ...] = ()
    bundles: tuple[str, ...] = ()


def plan_stack(inputs: StackInputs, versions: Mapping[tuple[str, str], str | None], ctx: RenderContext) -> StackPlan:
    """Render every child of the stack, given the versions of the objects its collector reads."""
    if inputs.error is not None or inputs.stack is None or inputs.config is None:
        return StackPlan(error=inputs.error or Issue("InvalidSpec", "the stack could not be read"))
    missing = [ref for ref, version in versions.items() if version is None]
    if missing:
        kind, name = missing[0]
        where = inputs.config.referenced_by.get(missing[0], "a selected sink")
        return StackPlan(
            error=Issue(
                f"{kind}NotFound",
                f'{kind} "{name}" (used by {where}) not found in namespace '
                f'"{inputs.stack.metadata.namespace}"; create it, or fix the reference',
            )
        )
    full = replace(ctx, ref_versions={k: v for k, v in versions.items() if v})
    try:
        rendered = render_stack(inputs.stack, inputs.sinks, full)
    except RenderError as exc:
        return StackPlan(error=Issue(exc.reason, str(exc)))
    warnings = [Issue(w.reason, f"{w.path}: {w.message}") for w in rendered.warnings]
    warnings += [Issue(e.reason, str(e)) for e in rendered.left_out]
    return StackPlan(rendered.objects, None, tuple(warnings), rendered.dashboards, rendered.bundles)


def stack_fields(inputs: StackInputs, plan: StackPlan, config_hash: str) -> dict[str, Any]:
    """The MonitoringStack's own status fields (camelCase)."""
    names = [s.metadata.name for s in inputs.sinks]
    return {
        "selectedSinks": names,
        "sinkCount": len(names),
        "generatedObjects": [
            {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"]} for o in plan.objects
        ],
        "configHash": config_hash,
        "selectedBundles": list(plan.bundles),
        "selectedDashboards": list(plan.dashboards),
    }


def rolled_out_hash(objects: Sequence[Mapping[str, Any]]) -> str:
    """The collector config hash carried by the rendered Deployment ("" when none)."""
    for obj in objects:
        if obj["kind"] == "Deployment":
            return str(obj["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH])
    return ""
