"""Status as an API: pure functions from what a reconcile found to the status to write.

Conditions: ``Ready`` (everything generated is up to date), ``Degraded`` (Ready, but something was
left out) and ``Stalled`` (not Ready, and no retry will help until the object or something it
references changes). ``Stalled`` follows kstatus (sigs.k8s.io/cli-utils), which Flux's health
checks use: without it, a Ready=False object is forever "InProgress" there instead of "Failed".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from vigil.models.base import printable

READY = "Ready"
DEGRADED = "Degraded"
STALLED = "Stalled"


@dataclass(frozen=True)
class Issue:
    """Something a user should know: a CamelCase reason and a message naming the field.

    Control characters in the message are escaped: it reaches status, Events and logs.
    """

    reason: str
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", printable(self.message))


@dataclass(frozen=True)
class Outcome:
    """What one reconcile concluded about an object."""

    generation: int
    error: Issue | None = None
    """Why the object is not Ready (nothing new was rolled out); None when Ready.

    Always a problem a retry cannot fix (an invalid spec, a missing reference, a refused object):
    failures worth retrying never reach status, they are retried.
    """
    warnings: tuple[Issue, ...] = ()
    """What is degraded although the object is Ready (e.g. ServiceMonitors skipped)."""
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Kind-specific status fields on the wire (camelCase), from :func:`fields_of`."""

    @property
    def ready(self) -> bool:
        return self.error is None


def fields_of(status: BaseModel) -> dict[str, Any]:
    """A kind's own status fields, from its typed status model, as the API stores them.

    Fields another handler writes (the model's ``OWN_WRITER``, e.g. a stack's dataFlow) are left out,
    so that writing these never resets them.
    """
    own: frozenset[str] = getattr(type(status), "OWN_WRITER", frozenset())
    return status.model_dump(by_alias=True, mode="json", exclude={"conditions", "observed_generation", *own})


def _condition(
    previous: Sequence[dict[str, Any]],
    *,
    kind: str,
    status: str,
    reason: str,
    message: str,
    generation: int,
    now: str,
) -> dict[str, Any]:
    old = next((c for c in previous if c.get("type") == kind), None)
    since = old["lastTransitionTime"] if old and old.get("status") == status and old.get("lastTransitionTime") else now
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def conditions(previous: Sequence[dict[str, Any]], outcome: Outcome, now: str) -> list[dict[str, Any]]:
    """Ready, Degraded and Stalled conditions; lastTransitionTime moves only when status flips."""
    if outcome.error is None:
        ready = ("True", "Reconciled", "All generated objects are up to date.")
        stalled = ("False", "AsExpected", "Nothing stops the reconcile.")
    else:
        ready = ("False", outcome.error.reason, outcome.error.message)
        stalled = ("True", outcome.error.reason, outcome.error.message)
    if outcome.warnings:
        degraded = (
            "True",
            outcome.warnings[0].reason,
            " ".join(w.message for w in outcome.warnings),
        )
    else:
        degraded = ("False", "AsExpected", "Nothing is degraded.")
    return [
        _condition(
            previous,
            kind=kind,
            status=state,
            reason=reason,
            message=message,
            generation=outcome.generation,
            now=now,
        )
        for kind, (state, reason, message) in ((READY, ready), (DEGRADED, degraded), (STALLED, stalled))
    ]


def status(previous: dict[str, Any] | None, outcome: Outcome, now: str) -> dict[str, Any]:
    """The full status to store: observedGeneration, conditions and the kind's own fields."""
    prev = previous or {}
    return {
        "observedGeneration": outcome.generation,
        "conditions": conditions(prev.get("conditions", []), outcome, now),
        **outcome.fields,
    }


def changed(previous: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The top-level status fields that differ (an empty dict means: write nothing)."""
    prev = previous or {}
    return {k: v for k, v in new.items() if prev.get(k) != v}
