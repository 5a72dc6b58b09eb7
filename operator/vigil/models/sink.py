"""TelemetrySink: one destination for traces, metrics and/or logs.

The destination fields of the spec (otlp, prometheusRemoteWrite, ...) come from the registry in
``vigil.destinations``; this module adds what every sink has: signals, delivery and processing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints, create_model

from vigil.destinations import DESTINATIONS
from vigil.destinations.base import Destination, SinkOptions
from vigil.models.base import CelRule, GoDuration, VigilModel
from vigil.models.common import Condition, ObjectMeta
from vigil.models.delivery import SIGNALS, Queue, Retry, Signal

AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class Batch(VigilModel):
    """Batching for this sink (its own batch processor)."""

    timeout: GoDuration = Field(default="200ms", description="Send a batch after this long.")
    send_batch_size: int = Field(default=8192, ge=1, le=1000000, description="Items that trigger a send.")
    send_batch_max_size: int = Field(default=0, ge=0, le=1000000, description="Upper bound of a batch (0: no bound).")


class Sampling(VigilModel):
    """Probabilistic sampling of traces sent to this sink."""

    percentage: float = Field(ge=0, le=100, description="Share of traces kept, 0-100.")


class Redact(VigilModel):
    """Attributes removed or hashed before data reaches this sink."""

    cel_rules = (
        CelRule(
            rule="size(self.delete) + size(self.hash) > 0",
            message="list at least one attribute in delete or hash",
            check=lambda m: len(m.delete) + len(m.hash) > 0,
        ),
    )

    delete: list[AttributeKey] = Field(default_factory=list, max_length=64, description="Attribute keys to delete.")
    hash: list[AttributeKey] = Field(
        default_factory=list,
        max_length=64,
        description="Attribute keys to replace by a SHA-1 hash.",
    )


def _names(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _set(field: str) -> str:
    return f"has(self.{field})"


_ALL = [d.field for d in DESTINATIONS]
_QUEUED = [d for d in DESTINATIONS if d.queued]


def _signal_rule(d: Destination[Any]) -> CelRule:
    allowed = list(d.signals)
    listed = ", ".join(f"'{s}'" for s in allowed)
    return CelRule(
        rule=f"!{_set(d.field)} || self.signals.all(s, s in [{listed}])",
        message=f"{d.field} sinks carry {_names(allowed)} only: set signals to [{', '.join(allowed)}]",
        check=lambda m: m.destination_field != d.field or set(m.signals) <= set(allowed),
    )


class SinkSpecBase(VigilModel):
    """Desired state of a TelemetrySink: the fields every destination shares."""

    cel_rules = (
        CelRule(
            rule=" + ".join(f"({_set(f)} ? 1 : 0)" for f in _ALL) + " == 1",
            message=f"set exactly one destination: {_names(_ALL)}",
            check=lambda m: len(m.destinations_set()) == 1,
        ),
        *(_signal_rule(d) for d in DESTINATIONS if set(d.signals) != set(SIGNALS)),
        CelRule(
            rule="!has(self.sampling) || 'traces' in self.signals",
            message="sampling applies to traces: add traces to signals or remove sampling",
            check=lambda m: m.sampling is None or "traces" in m.signals,
        ),
        CelRule(
            rule="(!has(self.retry) && !has(self.queue)) || " + " || ".join(_set(d.field) for d in _QUEUED),
            message=f"retry and queue apply to {_names([d.field for d in _QUEUED])} sinks only",
            check=lambda m: (m.retry is None and m.queue is None) or m.destination_field in {d.field for d in _QUEUED},
        ),
    )

    signals: list[Signal] = Field(
        min_length=1,
        max_length=3,
        description="Signals this sink receives: any of traces, metrics, logs.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    retry: Retry | None = Field(default=None, description="Retry on failure; exporter default if unset.")
    queue: Queue | None = Field(default=None, description="Sending queue; exporter default if unset.")
    batch: Batch | None = Field(default=None, description="Batching for this sink only; the stack's batch if unset.")
    sampling: Sampling | None = Field(default=None, description="Trace sampling for this sink.")
    redact: Redact | None = Field(default=None, description="Attributes to delete or hash.")

    def destinations_set(self) -> list[Destination[Any]]:
        """The destinations whose field is set (exactly one when valid)."""
        return [d for d in DESTINATIONS if getattr(self, d.attr, None) is not None]

    @property
    def destination(self) -> tuple[Destination[Any], VigilModel]:
        """This sink's destination and its settings."""
        d = self.destinations_set()[0]
        return d, getattr(self, d.attr)

    @property
    def destination_field(self) -> str:
        """Wire name of this sink's destination, e.g. ``prometheusRemoteWrite`` ("" when none)."""
        chosen = self.destinations_set()
        return chosen[0].field if len(chosen) == 1 else ""

    @property
    def destination_type(self) -> str:
        """Wire name of this sink's destination, e.g. ``prometheusRemoteWrite``."""
        return self.destination[0].field

    @property
    def options(self) -> SinkOptions:
        """What shapes the exporter besides the destination: signals (in order), retry, queue."""
        return SinkOptions(tuple(s for s in SIGNALS if s in self.signals), self.retry, self.queue)

    @property
    def has_own_processing(self) -> bool:
        """True when this sink needs its own pipeline (own batch, sampling or redaction)."""
        return any(x is not None for x in (self.batch, self.sampling, self.redact))


if TYPE_CHECKING:
    TelemetrySinkSpec = SinkSpecBase
else:
    TelemetrySinkSpec = create_model(
        "TelemetrySinkSpec",
        __base__=SinkSpecBase,
        __doc__="Desired state of a TelemetrySink.",
        __module__=__name__,
        **{d.attr: (d.model | None, Field(default=None, description=d.description)) for d in DESTINATIONS},
    )


class TelemetrySinkStatus(VigilModel):
    """Observed state of a TelemetrySink."""

    observed_generation: int = Field(default=0, description="Generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready, Degraded and Stalled.")
    destination_type: str = Field(default="", description="The destination set in spec.")
    used_by: list[str] = Field(
        default_factory=list,
        description="MonitoringStacks in this namespace that select this sink.",
    )


class TelemetrySink(VigilModel):
    """A TelemetrySink object as stored in the API server."""

    api_version: Literal["vigil.dev/v1alpha1"] = Field(description="vigil.dev/v1alpha1")
    kind: Literal["TelemetrySink"] = Field(description="TelemetrySink")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: TelemetrySinkSpec = Field(description="Desired state.")
    status: TelemetrySinkStatus | None = Field(default=None, description="Observed state.")
