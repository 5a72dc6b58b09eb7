"""TelemetrySink: validate, report Ready and users, and wake every stack that selects it."""

from __future__ import annotations

from typing import Any

import kopf
from pydantic import ValidationError

from vigil import api, status
from vigil.handlers.common import generation, observed, register_kind, report, retried, when_deleted
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
    shown = {s["metadata"]["name"]: (s.get("status") or {}).get("usedBy") for s in sinks}
    others = [e for e in stacks if e["name"] != stack]
    for sink in sorted((set(before) ^ set(after)) & set(labels)):
        used = {e["name"] for e in others if selects(e, sink, labels[sink])}
        if sink in after:
            used.add(stack)
        # The stack's status may not show its last rollout yet; the sink may already say so.
        if shown[sink] != sorted(used):
            kube.patch_status(VIGIL[KIND], namespace, sink, {"usedBy": sorted(used)})


@observed(KIND)
def reconcile(
    *,
    body: kopf.Body,
    namespace: str,
    name: str,
    labels: kopf.Labels,
    patch: kopf.Patch,
    memo: kopf.Memo,
    stacks_by_namespace: kopf.Index[str, dict[str, Any]],
    reason: str | None = None,
    **_: Any,
) -> None:
    """Validate the sink and report who uses it; once created or changed, wake the stacks that select it.

    One handler per event, so kopf keeps no record of one having succeeded before the next: the
    operator killed between kopf's two writes (its record, then the status) would otherwise
    leave a sink whose reconcile counted as done and whose status was never written.
    """
    parsed = parse_as(body, TelemetrySink)
    used_by = users(list(stacks_by_namespace.get(namespace, [])), name, dict(labels))
    if isinstance(parsed, list):
        error, fields = Issue("InvalidSpec", problems_message(parsed)), TelemetrySinkStatus(used_by=used_by)
    else:
        error, fields = None, TelemetrySinkStatus(destination_type=parsed.model.spec.destination_type, used_by=used_by)
    if reason in (kopf.Reason.CREATE, kopf.Reason.UPDATE):
        wake(memo.kube, body, list(stacks_by_namespace.get(namespace, [])))
    report(body, patch, status.Outcome(generation(body), error, (), status.fields_of(fields)))


def wake(kube: Kube, body: kopf.Body, stacks: list[dict[str, Any]]) -> None:
    """Re-reconcile every stack (of ``stacks``, from the index) that selects the sink now or did before."""
    meta = body.get("metadata", {})
    name, namespace, labels = meta["name"], meta["namespace"], dict(meta.get("labels") or {})
    for entry in stacks:
        if selects(entry, name, labels) or name in entry["selected"]:
            kube.annotate(
                VIGIL[api.MONITORING_STACK.kind],
                namespace,
                entry["name"],
                {WAKE_ANNOTATION: f"{name}@{meta.get('resourceVersion', '')}"},
            )


@retried
def wake_stacks(
    *, body: kopf.Body, namespace: str, memo: kopf.Memo, stacks_by_namespace: kopf.Index[str, dict[str, Any]], **_: Any
) -> None:
    """A deleted sink: re-reconcile every stack that selected it."""
    # A copy: this runs in a thread while kopf may update the index on the event loop.
    wake(memo.kube, body, list(stacks_by_namespace.get(namespace, [])))


def index_sink(namespace: str | None, body: kopf.Body, **_: Any) -> dict[str | None, Any]:
    """Sinks by namespace, as documents (stacks select only inside their namespace), with the
    stacks their status says use them.

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
            "status": {"usedBy": list((body.get("status") or {}).get("usedBy") or [])},
        }
    }


def register(registry: kopf.OperatorRegistry, settings: Settings) -> None:
    """Attach the sink's handlers to ``registry``."""
    on = register_kind(registry, api.TELEMETRY_SINK, settings, ("sinks_by_namespace", index_sink), reconcile)
    kopf.on.event(**on, id="wake-stacks-when-deleted")(when_deleted(wake_stacks))
