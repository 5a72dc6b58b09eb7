"""MonitoringStack: one level-based reconcile (create, update, resume, drift, Secret rotation)."""

from __future__ import annotations

from typing import Any

import kopf

from vigil import collector_check, status
from vigil.handlers.common import GROUP, VERSION, apply_children, count_events, observed, report, retried
from vigil.handlers.sink import tell_sinks
from vigil.k8s import Kube
from vigil.render import meta
from vigil.render.context import RenderContext
from vigil.render.plan import StackPlan, plan_stack, prepare_stack, rolled_out_hash, stack_fields
from vigil.settings import Settings
from vigil.status import Issue

KIND = "MonitoringStack"
PLURAL = "monitoringstacks"


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
    **_: Any,
) -> None:
    """Parse the stack and its sinks, render, validate, apply what differs, report status."""
    kube: Kube = memo.kube
    settings: Settings = memo.settings
    sinks = list(sinks_by_namespace.get(namespace, []))
    inputs = prepare_stack(body, sinks)
    refs = inputs.config.referenced if inputs.config else ()
    versions = kube.resource_versions(namespace, refs)
    ctx = RenderContext(settings.prometheus_labels, uid=uid, cluster_rule_namespaces=settings.cluster_rule_namespaces)
    plan = plan_stack(inputs, versions, ctx)
    if plan.error is None and settings.collector_binary and inputs.config is not None:
        problem = collector_check.validate(
            settings.collector_binary, inputs.config.text, (e.name for e in inputs.config.env)
        )
        plan = StackPlan(error=Issue("InvalidConfig", f"otelcol validate: {problem}")) if problem else plan
    warnings = [*inputs.warnings, *plan.warnings]
    if plan.error is None:
        error, skipped = apply_children(kube, meta.Owner(KIND, name, namespace, uid), plan.objects)
        plan = StackPlan(error=error) if error else plan
        warnings += skipped
        memo.secret_versions[(namespace, name)] = versions
    generation = int(body.get("metadata", {}).get("generation", 0))
    fields = stack_fields(inputs, plan, rolled_out_hash(plan.objects)) if plan.error is None else {}
    report(body, patch, status.Outcome(generation, plan.error, tuple(warnings), fields))
    if plan.error is None:
        selected = (selected_sinks(body), list(fields["selectedSinks"]))
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
    tell_sinks(
        memo.kube,
        namespace,
        name,
        (selected_sinks(body), []),
        stacks=list(stacks_by_namespace.get(namespace, [])),
        sinks=list(sinks_by_namespace.get(namespace, [])),
    )


def selected_sinks(body: kopf.Body) -> list[str]:
    """The sinks the stack's status says it exported to at its last rollout."""
    return list((body.get("status") or {}).get("selectedSinks") or [])


@retried
def check_secrets(namespace: str, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """Reconcile when a Secret or ConfigMap the collector reads changed since the last rollout."""
    known = memo.secret_versions.get((namespace, name))
    if known and memo.kube.resource_versions(namespace, known) != known:
        reconcile(namespace=namespace, name=name, memo=memo, **kwargs)


def index_stack(namespace: str, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[str, Any]:
    """Stacks by namespace: what each selects, for the sink handler to wake the right ones."""
    return {
        namespace: {
            "name": name,
            "sinks": dict(spec.get("sinks") or {}),
            "selected": list(status.get("selectedSinks") or []),
        }
    }


def register(registry: kopf.OperatorRegistry, settings: Settings) -> None:
    """Attach the stack's handlers to ``registry``."""
    resource = {"group": GROUP, "version": VERSION, "plural": PLURAL, "registry": registry}
    kopf.index(**resource, id="stacks_by_namespace")(index_stack)
    kopf.on.event(**resource, id="count_event")(count_events(KIND, "stacks_by_namespace"))
    for event in (kopf.on.resume, kopf.on.create, kopf.on.update):
        event(**resource, id="reconcile")(reconcile)
    kopf.on.delete(**resource, id="forget", optional=True)(forget_stack)
    kopf.timer(
        **resource,
        id="drift",
        interval=settings.drift_interval,
        initial_delay=settings.drift_interval,
    )(reconcile)
    kopf.timer(
        **resource,
        id="secrets",
        interval=settings.secret_check_interval,
        initial_delay=settings.secret_check_interval,
    )(check_secrets)
