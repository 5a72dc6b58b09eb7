"""MonitoringStack: one level-based reconcile (create, update, resume, drift, Secret rotation)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from vigil import api, collector_check, dataflow, status
from vigil.handlers.common import (
    apply_children,
    generation,
    issue,
    now,
    observed,
    register_kind,
    report,
    retried,
    timer,
    when_deleted,
)
from vigil.handlers.sink import tell_sinks
from vigil.k8s import VIGIL, Kube, KubeError
from vigil.models.stack import MonitoringStack
from vigil.pipeline import StackBuild, build_from_documents, plan_stack, problems_message
from vigil.render import meta
from vigil.render.collector import COMPONENT
from vigil.settings import Settings
from vigil.status import Issue

KIND = api.MONITORING_STACK.kind
LOG = logging.getLogger("vigil")


@observed(KIND)
def reconcile(
    *,
    body: kopf.Body,
    namespace: str,
    name: str,
    uid: str,
    patch: kopf.Patch,
    memo: kopf.Memo,
    sinks_by_namespace: kopf.Index[str, dict[str, Any]],
    stacks_by_namespace: kopf.Index[str, dict[str, Any]],
    reason: str | None = None,
    logger: logging.Logger | logging.LoggerAdapter[Any] = LOG,
    **_: Any,
) -> None:
    """Build the stack's collector config once, render from it, validate, apply what differs, report."""
    kube: Kube = memo.kube
    settings: Settings = memo.settings
    sinks = list(sinks_by_namespace.get(namespace, []))
    if reason is None:
        sinks = live_only(kube, namespace, sinks)
    build = build_from_documents(body, sinks)
    if reason is not None and not isinstance(build, list) and misses_sinks(build):
        behind = index_behind(kube, build.stack, sinks)
        if behind:
            logger.info(f"TelemetrySink {', '.join(behind)} not seen yet: its event reconciles this stack")
            return
    if isinstance(build, list):
        report(body, patch, status.Outcome(generation(body), Issue("InvalidSpec", problems_message(build))))
        return
    versions = kube.resource_versions(namespace, build.config.referenced if build.config else ())
    plan = plan_stack(build, versions, settings.render_context(uid))
    own = f"{KIND}/{name}"
    error = issue(plan.error, own) if plan.error else collector_check.issue(settings.collector_binary, build.config)
    error = error or pod_label_conflict(kube, build.stack)
    warnings = [issue(w, own) for w in plan.warnings]
    flow = dataflow.issue(dataflow.from_status(body.get("status")))
    warnings += [flow] if flow else []
    if error is None:
        error, skipped = apply_children(kube, meta.owner_of(build.stack, uid), plan.objects)
        warnings += skipped
        memo.secret_versions[(namespace, name)] = versions
    fields = status.fields_of(plan.status) if error is None and plan.status else {}
    report(body, patch, status.Outcome(generation(body), error, tuple(warnings), fields))
    if error is None:
        selected = (selected_sinks(body), [s.metadata.name for s in build.sinks])
        tell_sinks(kube, namespace, name, selected, stacks=list(stacks_by_namespace.get(namespace, [])), sinks=sinks)


@retried
def forget_stack(
    *,
    body: kopf.Body,
    namespace: str,
    name: str,
    memo: kopf.Memo,
    sinks_by_namespace: kopf.Index[str, dict[str, Any]],
    stacks_by_namespace: kopf.Index[str, dict[str, Any]],
    **_: Any,
) -> None:
    """A deleted stack no longer uses its sinks."""
    memo.secret_versions.pop((namespace, name), None)
    memo.data_flow.pop((namespace, name), None)
    tell_sinks(
        memo.kube,
        namespace,
        name,
        (selected_sinks(body), []),
        stacks=list(stacks_by_namespace.get(namespace, [])),
        sinks=list(sinks_by_namespace.get(namespace, [])),
    )


def pod_label_conflict(kube: Kube, stack: MonitoringStack) -> Issue | None:
    """PodLabelConflict when spec.collector.podLabels would make a Service of the namespace send its
    traffic to the collector (``app: payments-api``); None otherwise."""
    extra = stack.spec.collector.pod_labels
    if not extra:
        return None
    owner = meta.owner_of(stack, None)
    labels = {**extra, **owner.labels(COMPONENT), **owner.selector_labels(COMPONENT)}
    found = kube.services_selecting(owner.namespace, labels, set(extra))
    if not found:
        return None
    return Issue(
        "PodLabelConflict",
        f"spec.collector.podLabels: with these labels the collector's pods would receive the traffic of "
        f"Service {', '.join(found)}, which selects them: nothing was applied; remove or rename the labels",
    )


def selected_sinks(body: kopf.Body) -> list[str]:
    """The sinks the stack's status says it exported to at its last rollout."""
    return list((body.get("status") or {}).get("selectedSinks") or [])


async def check_secrets(namespace: str, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """Reconcile when a Secret or ConfigMap the collector reads changed since the last rollout.

    On the event loop: most stacks reference none, and their tick then takes no handler thread.
    """
    if memo.secret_versions.get((namespace, name)):
        await asyncio.to_thread(rotated, namespace=namespace, name=name, memo=memo, **kwargs)


@retried
def rotated(namespace: str, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """Reconcile if a referenced Secret's or ConfigMap's version is not the one last rolled out."""
    known = memo.secret_versions.get((namespace, name))
    if known and memo.kube.resource_versions(namespace, known) != known:
        reconcile(namespace=namespace, name=name, memo=memo, **kwargs)


async def read_data_flow(
    *,
    body: kopf.Body,
    namespace: str | None,
    name: str,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **kwargs: Any,
) -> None:
    """Read the collector pods' export counters into status.dataFlow.

    Async, with the reads in a pool of their own: an unreachable collector never holds a handler
    thread. When a sink starts or stops failing, the reconcile (which owns the conditions) runs.
    """
    selected = selected_sinks(body)
    if not selected or namespace is None:
        return
    try:
        reading = await memo.collector_metrics.read(namespace, name, selected)
    except KubeError as exc:
        logger.info(f"collector pods not listed, status.dataFlow not updated: {exc}")
        return
    previous = dataflow.from_status(body.get("status"))
    seen = dataflow.observe(previous, memo.data_flow.get((namespace, name)), reading, selected, now())
    if seen.memory is not None:
        memo.data_flow[(namespace, name)] = seen.memory
    if seen.flow is None or seen.flow == previous:
        return
    patch.status["dataFlow"] = dataflow.to_status(seen.flow)
    if dataflow.issue(seen.flow) != dataflow.issue(previous):
        current = {**body, "status": {**(body.get("status") or {}), "dataFlow": patch.status["dataFlow"]}}
        await asyncio.to_thread(
            reconcile, body=current, namespace=namespace, name=name, patch=patch, memo=memo, logger=logger, **kwargs
        )


def index_stack(
    namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[str | None, Any]:
    """Stacks by namespace: what each selects, for the sink handler to wake the right ones."""
    return {
        namespace: {
            "name": name,
            "sinks": dict(spec.get("sinks") or {}),
            "selected": list(status.get("selectedSinks") or []),
        }
    }


def live_only(kube: Kube, namespace: str, sinks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sinks of the index that still exist: a drift tick checks them with one LIST.

    kopf keeps an object in its index until it sees the object's DELETED event. A sink deleted
    while a watch was down long enough to expire (410 Gone) has none: the list that follows
    simply lacks it. Without this check its stacks would export to it until a restart.
    """
    live = kube.labels_of(VIGIL[api.TELEMETRY_SINK.kind], namespace)
    return [s for s in sinks if s.get("metadata", {}).get("name") in live]


def misses_sinks(build: StackBuild) -> bool:
    """Whether the build lacks a sink the stack asks for: it selects none, or names one not found."""
    findings = [*build.warnings, *([build.error] if build.error else [])]
    return any(f.reason in ("NoSinksSelected", "SinkNotFound") for f in findings)


def index_behind(kube: Kube, stack: MonitoringStack, sinks: list[dict[str, Any]]) -> list[str]:
    """The sinks the stack selects that the API server lists and the index (``sinks``) lacks.

    A stack and its sinks applied together arrive on two watches, in either order: the stack's
    reconcile may run before the sinks' events reach the index, and would report NoSinksSelected
    for sinks that exist. Before a sink is said to be missing, one metadata-only LIST asks the API
    server. A sink it lists that the index lacks has an event on its way, and that event wakes
    every stack selecting the sink (handlers/sink.py): the stack waits for it, holding no thread.
    """
    indexed = {s.get("metadata", {}).get("name") for s in sinks}
    namespace = stack.metadata.namespace or "default"
    live = kube.labels_of(VIGIL[api.TELEMETRY_SINK.kind], namespace)
    return sorted(n for n, labels in live.items() if n not in indexed and stack.spec.sinks.selects(n, labels))


def register(registry: kopf.OperatorRegistry, settings: Settings) -> None:
    """Attach the stack's handlers to ``registry``."""
    on = register_kind(registry, api.MONITORING_STACK, settings, ("stacks_by_namespace", index_stack), reconcile)
    kopf.on.event(**on, id="forget-when-deleted")(when_deleted(forget_stack))
    timer(on, "secrets", settings.secret_check_interval, check_secrets)
    if settings.data_flow_interval > 0:
        timer(on, "data-flow", settings.data_flow_interval, read_data_flow)
