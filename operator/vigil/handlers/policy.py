"""AlertPolicy: parse (PromQL included), render rules and routing, apply, report status."""

from __future__ import annotations

from typing import Any

import kopf

from vigil import api, status
from vigil.handlers.common import LIVE, apply_children, count_events, generation, indexed, observed, report, resource
from vigil.k8s import Kube
from vigil.models.common import ObjectReference
from vigil.models.policy import AlertPolicy, AlertPolicyStatus
from vigil.parse import parse_as
from vigil.pipeline import problems_message
from vigil.render import meta
from vigil.render.alerts import render_policy
from vigil.settings import Settings
from vigil.status import Issue

KIND = api.ALERT_POLICY.kind


def policy_status(policy: AlertPolicy, objects: list[dict[str, Any]]) -> AlertPolicyStatus:
    """The AlertPolicy's own status fields."""
    return AlertPolicyStatus(
        alert_kind=policy.spec.alert_kind,
        alert_name=policy.alert_name,
        severity=",".join(policy.spec.severities()),
        receivers=[r.name for r in policy.spec.receivers],
        generated_objects=[
            ObjectReference(api_version=o["apiVersion"], kind=o["kind"], name=o["metadata"]["name"]) for o in objects
        ],
    )


@observed(KIND)
def reconcile(*, body: kopf.Body, uid: str, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    """Validate the policy (PromQL too); apply its PrometheusRule and AlertmanagerConfig."""
    kube: Kube = memo.kube
    settings: Settings = memo.settings
    parsed = parse_as(body, AlertPolicy)
    if isinstance(parsed, list):
        reason = "InvalidExpression" if any("PromQL" in p.message for p in parsed) else "InvalidSpec"
        report(body, patch, status.Outcome(generation(body), Issue(reason, problems_message(parsed))))
        return
    policy = parsed.model
    objects = render_policy(policy, settings.render_context(uid))
    error, warnings = apply_children(kube, meta.owner_of(policy, uid), objects)
    fields = status.fields_of(policy_status(policy, objects)) if error is None else {}
    report(body, patch, status.Outcome(generation(body), error, tuple(warnings), fields))


def index_policy(namespace: str | None, name: str, **_: Any) -> dict[str | None, Any]:
    """Policies by namespace (counted as managed objects)."""
    return {namespace: name}


def register(registry: kopf.OperatorRegistry, settings: Settings) -> None:
    """Attach the policy's handlers to ``registry``."""
    on = resource(api.ALERT_POLICY, registry)
    kopf.index(**on, **LIVE, id="policies")(indexed(KIND, index_policy))
    kopf.on.event(**on, id="count_event")(count_events(KIND, "policies"))
    for event in (kopf.on.resume, kopf.on.create, kopf.on.update):
        event(**on, id="reconcile")(reconcile)
    kopf.timer(**on, id="drift", interval=settings.drift_interval, initial_delay=settings.drift_interval)(reconcile)
