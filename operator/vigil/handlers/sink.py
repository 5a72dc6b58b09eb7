"""TelemetrySink: validate, report Ready and users, and wake every stack that selects it."""

from __future__ import annotations

from typing import Any

import kopf
from pydantic import ValidationError

from vigil import api, status
from vigil.handlers.common import count_events, generation, indexed, observed, report, resource, retried
from vigil.k8s import VIGIL, Kube
from vigil.models.sink import TelemetrySink, TelemetrySinkStatus
from vigil.models.stack import SinkSelection
from vigil.parse import parse_as
from vigil.pipeline import problems_message
from vigil.settings import Settings
from vigil.status import Issue

KIND = api.TELEMETRY_SINK.kind
WAKE_ANNOTATION = f"sinks.{api.GROUP}/changed"
"""Set on a stack to wake its handlers. Not under ``vigil.dev/``: kopf marks that prefix as its own
storage's (``vigil.dev/kopf-managed``) and leaves its annotations out of the diff, so a change
there would run no handler."""


def selects(entry: dict[str, Any], sink: str, labels: dict[str, str]) -> bool:
    """Whether a stack (from the index) selects sink ``sink`` with ``labels``."""
    try:
        selection = SinkSelection.model_validate(entry["sinks"])
    except ValidationError:
        return False
    return selection.selects(sink, labels)


def users(stacks: list[dict[str, Any]], name: str, labels: dict[str, str]) -> list[str]:
    """Stacks selecting the sink now, sorted."""
    return sorted(e["name"] for e in stacks if selects(e, name, labels))


def tell_sinks(
    kube: Kube,
    namespace: str,
    stack: str,
    selected: tuple[list[str], list[str]],
    *,
    stacks: list[dict[str, Any]],
    sinks: list[dict[str, Any]],
) -> None:
    """Update ``usedBy`` of the sinks ``stack`` started or stopped selecting (``selected``: before, after).

    Without this a sink learns of a new user only at its next drift tick.
    """
    before, after = selected
    labels = {s["metadata"]["name"]: dict(s["metadata"].get("labels") or {}) for s in sinks}
    others = [e for e in stacks if e["name"] != stack]
    for sink in sorted((set(before) ^ set(after)) & set(labels)):
        used = {e["name"] for e in others if selects(e, sink, labels[sink])}
        if sink in after:
            used.add(stack)
        kube.patch_status(VIGIL[KIND], namespace, sink, {"usedBy": sorted(used)})


@observed(KIND)
def reconcile(
    *,
    body: kopf.Body,
    namespace: str,
    name: str,
    labels: kopf.Labels,
    patch: kopf.Patch,
    stacks_by_namespace: kopf.Index[str, dict[str, Any]],
    **_: Any,
) -> None:
    """Validate the sink and report who uses it."""
    parsed = parse_as(body, TelemetrySink)
    used_by = users(list(stacks_by_namespace.get(namespace, [])), name, dict(labels))
    if isinstance(parsed, list):
        error, fields = Issue("InvalidSpec", problems_message(parsed)), TelemetrySinkStatus(used_by=used_by)
    else:
        error, fields = None, TelemetrySinkStatus(destination_type=parsed.model.spec.destination_type, used_by=used_by)
    report(body, patch, status.Outcome(generation(body), error, (), status.fields_of(fields)))


@retried
def wake_stacks(
    *,
    body: kopf.Body,
    namespace: str,
    name: str,
    labels: kopf.Labels,
    memo: kopf.Memo,
    stacks_by_namespace: kopf.Index[str, dict[str, Any]],
    **_: Any,
) -> None:
    """Re-reconcile every stack that selects this sink now or did before the change."""
    kube: Kube = memo.kube
    version = str(body.get("metadata", {}).get("resourceVersion", ""))
    # A copy: this runs in a thread while kopf may update the index on the event loop.
    for entry in list(stacks_by_namespace.get(namespace, [])):
        if selects(entry, name, dict(labels)) or name in entry["selected"]:
            kube.annotate(
                VIGIL[api.MONITORING_STACK.kind], namespace, entry["name"], {WAKE_ANNOTATION: f"{name}@{version}"}
            )


def index_sink(namespace: str | None, body: kopf.Body, **_: Any) -> dict[str | None, Any]:
    """Sinks by namespace, as documents (stacks select only inside their namespace).

    A sink being deleted is left out (an empty mapping drops it from the index; None would keep
    its last entry): the reconcile its deletion wakes must render without it.
    """
    meta = body.get("metadata", {})
    if meta.get("deletionTimestamp"):
        return {}
    return {
        namespace: {
            "apiVersion": body.get("apiVersion"),
            "kind": body.get("kind"),
            "metadata": {
                "name": meta.get("name"),
                "namespace": namespace,
                "labels": dict(meta.get("labels") or {}),
            },
            "spec": dict(body.get("spec") or {}),
        }
    }


def register(registry: kopf.OperatorRegistry, settings: Settings) -> None:
    """Attach the sink's handlers to ``registry``."""
    on = resource(api.TELEMETRY_SINK, registry)
    kopf.index(**on, id="sinks_by_namespace")(indexed(KIND, index_sink))
    kopf.on.event(**on, id="count_event")(count_events(KIND, "sinks_by_namespace"))
    for event in (kopf.on.resume, kopf.on.create, kopf.on.update):
        event(**on, id="reconcile")(reconcile)
    for event in (kopf.on.create, kopf.on.update):
        event(**on, id="wake-stacks")(wake_stacks)
    kopf.on.delete(**on, id="wake-stacks", optional=True)(wake_stacks)
    kopf.timer(**on, id="drift", interval=settings.drift_interval, initial_delay=settings.drift_interval)(reconcile)
