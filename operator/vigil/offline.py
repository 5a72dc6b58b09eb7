"""Render and validate documents with no cluster: the engine of ``vigil render/validate``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from vigil.models.base import quoted
from vigil.models.common import namespace_problem
from vigil.models.policy import AlertPolicy
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.parse import Parsed, Problem, Source, misaddressed, parse_document, shown
from vigil.pipeline import build_stack, plan_stack
from vigil.render.alerts import render_policy
from vigil.render.context import RenderContext
from vigil.render.errors import RenderError


@dataclass
class Result:
    """Every object rendered, every problem found, and a row per Vigil document."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows: list[tuple[str, str, str, int]] = field(default_factory=list)
    """(source, kind, name, problem count)."""
    models: list[BaseModel] = field(default_factory=list)
    """Every document that passed model validation, in input order."""
    warnings: list[Problem] = field(default_factory=list)
    """Documents passed over that were probably meant for Vigil (an error under --strict)."""
    passed_over: list[tuple[str, str, str]] = field(default_factory=list)
    """(source, kind, name) of every document that is not a Vigil object."""


def _with_namespace(doc: Any, namespace: str) -> Any:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if isinstance(meta, dict) and not meta.get("namespace"):
        return {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
    return doc


def process(documents: Iterable[tuple[Source, Any]], namespace: str, ctx: RenderContext | None = None) -> Result:
    """Validate every document, then render every valid stack (with the sinks it selects) and
    every valid policy (alone)."""
    ctx = ctx or RenderContext()
    result = Result()
    problem = namespace_problem(namespace)
    if problem is not None:
        # Every object naming none would land in it: nothing is read further.
        result.problems.append(Problem(None, "vigil", "--namespace", f"Invalid value: {quoted(namespace)}: {problem}"))
        return result
    parsed: list[Parsed[BaseModel]] = []
    for source, doc in documents:
        outcome = parse_document(_with_namespace(doc, namespace), source)
        if outcome is None:
            _pass_over(doc, source, result)
            continue
        if isinstance(outcome, Parsed):
            parsed.append(outcome)
            model = outcome.model
            assert isinstance(model, TelemetrySink | MonitoringStack | AlertPolicy)
            result.rows.append((str(source), model.kind, model.metadata.name, 0))
        else:
            result.problems += outcome
            obj = outcome[0].object.split("/", 1)
            result.rows.append((str(source), obj[0], obj[-1], len(outcome)))
    result.models = [p.model for p in parsed]
    sinks = [p.model for p in parsed if isinstance(p.model, TelemetrySink)]
    names = _Names()
    for item in parsed:
        stack = item.model
        if not isinstance(stack, MonitoringStack):
            continue
        found = _render(stack, sinks, item.source, ctx, result, names=names)
        if found:
            _count(result, item.source, found)
    for item in parsed:
        if isinstance(item.model, AlertPolicy):
            objects = render_policy(item.model, ctx)
            conflict = names.claim(item.model, item.source, objects)
            if conflict is None:
                result.objects += objects
            else:
                result.problems.append(conflict)
                _count(result, item.source, 1)
    return result


def _count(result: Result, source: Source | None, found: int) -> None:
    idx = next(i for i, r in enumerate(result.rows) if r[0] == str(source))
    row = result.rows[idx]
    result.rows[idx] = (row[0], row[1], row[2], row[3] + found)


@dataclass
class _Names:
    """Which owner generates each (namespace, kind, name): two owners must never share one."""

    owners: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def claim(
        self, model: MonitoringStack | AlertPolicy, source: Source | None, objects: list[dict[str, Any]]
    ) -> Problem | None:
        """Record ``model``'s objects; the problem when another owner already generates one of them.

        The operator would refuse to take that object over (NameConflict): offline it is an error.
        """
        owner = f"{model.kind}/{model.metadata.name}"
        keys = [(o["metadata"]["namespace"], o["kind"], o["metadata"]["name"]) for o in objects]
        for key in keys:
            other = self.owners.get(key)
            if other is not None and other != owner:
                return Problem(
                    source,
                    owner,
                    "metadata.name",
                    f'generates {key[1]} "{key[2]}", which {other} generates too: rename one of them',
                )
        for key in keys:
            self.owners[key] = owner
        return None


def _pass_over(doc: Any, source: Source, result: Result) -> None:
    kind, name = shown(doc.get("kind", "?"), 63), "?"
    if isinstance(doc.get("metadata"), dict):
        name = shown(doc["metadata"].get("name", "?"))
    result.passed_over.append((str(source), kind, name))
    why = misaddressed(doc)
    if why is not None:
        result.warnings.append(Problem(source, f"{kind}/{name}", "apiVersion", why))


def _render(
    stack: MonitoringStack,
    sinks: list[TelemetrySink],
    source: Source | None,
    ctx: RenderContext,
    result: Result,
    *,
    names: _Names,
) -> int:
    build = build_stack(stack, sinks)
    # Offline the versions of referenced Secrets/ConfigMaps are unknown, and assumed present.
    versions = dict.fromkeys(build.config.referenced, "") if build.config else {}
    plan = plan_stack(build, versions, ctx, apply="client-side")
    errors: list[RenderError] = [w for w in build.warnings if isinstance(w, RenderError)]
    errors += [plan.error] if plan.error is not None else []
    errors += plan.left_out
    result.problems += [Problem(source, e.object, e.field, e.message) for e in errors]
    conflict = names.claim(stack, source, plan.objects)
    if conflict is not None:
        result.problems.append(conflict)
        return len(errors) + 1
    result.objects += plan.objects
    return len(errors)
