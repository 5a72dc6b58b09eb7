"""TelemetrySink: validate, report Ready and users, and wake every stack that selects it."""

from __future__ import annotations

from typing import Any

import kopf
from pydantic import ValidationError

from vigil import status
from vigil.handlers.common import GROUP, VERSION, count_events, observed, report, retried
from vigil.k8s import MONITORING_STACK, TELEMETRY_SINK, Kube
from vigil.models.stack import SinkSelection
from vigil.parse import Parsed, parse_document
from vigil.render.plan import problems_message
from vigil.settings import Settings
from vigil.status import Issue

KIND = "TelemetrySink"
PLURAL = "telemetrysinks"
WAKE_ANNOTATION = "vigil.dev/sinks-changed"


def selects(entry: dict[str, Any], sink: str, labels: dict[str, str]) -> bool:
    """Whether a stack (from the index) selects sink ``sink`` with ``labels``."""
    try:
        selection = SinkSelection.model_validate(entry["sinks"])
    except ValidationError:
        return False
    return sink in selection.names or (selection.selector is not None and selection.selector.matches(labels))


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
        kube.patch_status(TELEMETRY_SINK, namespace, sink, {"usedBy": sorted(used)})


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
    parsed = parse_document(dict(body))
    stacks = list(stacks_by_namespace.get(namespace, []))
    error = None if isinstance(parsed, Parsed) else Issue("InvalidSpec", problems_message(parsed or []))
    fields: dict[str, Any] = {"usedBy": users(stacks, name, dict(labels))}
    if isinstance(parsed, Parsed):
        fields["destinationType"] = parsed.model.spec.destination_type  # type: ignore[attr-defined]
    generation = int(body.get("metadata", {}).get("generation", 0))
    report(body, patch, status.Outcome(generation, error, (), fields))


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
            kube.annotate(MONITORING_STACK, namespace, entry["name"], {WAKE_ANNOTATION: f"{name}@{version}"})


def index_sink(namespace: str, body: kopf.Body, **_: Any) -> dict[str, Any]:
    """Sinks by namespace, as documents (stacks select only inside their namespace)."""
    meta = body.get("metadata", {})
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
    resource = {"group": GROUP, "version": VERSION, "plural": PLURAL, "registry": registry}
    kopf.index(**resource, id="sinks_by_namespace")(index_sink)
    kopf.on.event(**resource, id="count_event")(count_events(KIND, "sinks_by_namespace"))
    for event in (kopf.on.resume, kopf.on.create, kopf.on.update):
        event(**resource, id="reconcile")(reconcile)
    for event in (kopf.on.create, kopf.on.update):
        event(**resource, id="wake-stacks")(wake_stacks)
    kopf.on.delete(**resource, id="wake-stacks", optional=True)(wake_stacks)
    kopf.timer(
        **resource,
        id="drift",
        interval=settings.drift_interval,
        initial_delay=settings.drift_interval,
    )(reconcile)
