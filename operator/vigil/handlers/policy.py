"""AlertPolicy: parse (PromQL included), render rules and routing, apply, report status."""

from __future__ import annotations

from typing import Any

import kopf

from vigil import status
from vigil.handlers.common import GROUP, VERSION, apply_children, count_events, observed, report
from vigil.k8s import Kube
from vigil.models import AlertPolicy
from vigil.parse import Parsed, parse_document
from vigil.render.alerts import owner_of, render_policy
from vigil.render.context import RenderContext
from vigil.render.plan import problems_message
from vigil.settings import Settings
from vigil.status import Issue

KIND = "AlertPolicy"
PLURAL = "alertpolicies"


def policy_fields(policy: AlertPolicy, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The AlertPolicy's own status fields (camelCase)."""
    return {
        "alertKind": policy.spec.alert_kind,
        "alertName": policy.alert_name,
        "severity": ",".join(policy.spec.severities()),
        "receivers": [r.name for r in policy.spec.receivers],
        "generatedObjects": [
            {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"]} for o in objects
        ],
    }


@observed(KIND)
def reconcile(*, body: kopf.Body, uid: str, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    """Validate the policy (PromQL too); apply its PrometheusRule and AlertmanagerConfig."""
    kube: Kube = memo.kube
    settings: Settings = memo.settings
    generation = int(body.get("metadata", {}).get("generation", 0))
    parsed = parse_document(dict(body))
    if not isinstance(parsed, Parsed) or not isinstance(parsed.model, AlertPolicy):
        problems = parsed if isinstance(parsed, list) else []
        reason = "InvalidExpression" if any("PromQL" in p.message for p in problems) else "InvalidSpec"
        report(body, patch, status.Outcome(generation, Issue(reason, problems_message(problems))))
        return
    policy = parsed.model
    ctx = RenderContext(settings.prometheus_labels, uid=uid)
    objects = render_policy(policy, ctx)
    error, warnings = apply_children(kube, owner_of(policy, ctx), objects)
    fields = policy_fields(policy, objects) if error is None else {}
    report(body, patch, status.Outcome(generation, error, tuple(warnings), fields))


def register(registry: kopf.OperatorRegistry, settings: Settings) -> None:
    """Attach the policy's handlers to ``registry``."""
    resource = {"group": GROUP, "version": VERSION, "plural": PLURAL, "registry": registry}
    kopf.index(**resource, id="policies")(lambda namespace, name, **_: {namespace: name})
    kopf.on.event(**resource, id="count_event")(count_events(KIND, "policies"))
    for event in (kopf.on.resume, kopf.on.create, kopf.on.update):
        event(**resource, id="reconcile")(reconcile)
    kopf.timer(**resource, id="drift", interval=settings.drift_interval, initial_delay=settings.drift_interval)(
        reconcile
    )
