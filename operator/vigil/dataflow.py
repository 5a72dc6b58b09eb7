"""Sink data-flow health: what a collector's own counters say about each sink it exports to.

Pure. Every collector serves its own metrics on port 8888; per exporter id (``<type>/<sink>``, as
render/collector_config.py names them) it counts items sent, ``otelcol_exporter_sent_<unit>_total``,
and items it gave up on after its retries, ``otelcol_exporter_send_failed_<unit>_total``, for spans,
metric points and log records. The operator reads every collector pod of a stack now and then
(vigil/collector_metrics.py) and turns two successive reads into ``status.dataFlow``:

- a read that finds new failures is a *failing* read: it sets ``lastFailureTime`` (and
  ``failingSince``, if not set);
- a read that finds items sent and no new failures clears ``failingSince``;
- a read that finds neither (no traffic) changes nothing.

A sink *keeps failing* when a second failing read follows the first with no clean read between
(``lastFailureTime`` after ``failingSince``): the stack is then Degraded, reason ExportFailing.
Counts are compared per pod (by UID), so a rollout or a restarted container never looks like
failures; the first read after the operator starts is only a baseline.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from vigil.models.stack import DataFlow, SinkDataFlow
from vigil.status import Issue

COUNTER = re.compile(r"^otelcol_exporter_(sent|send_failed)_(spans|metric_points|log_records)_total$")
EXPORT_FAILING = "ExportFailing"


@dataclass(frozen=True)
class Counts:
    """Items sent and items that failed, as counted by one collector (or summed over several)."""

    sent: int = 0
    failed: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.sent + other.sent, self.failed + other.failed)

    def growth_since(self, before: Counts) -> Counts:
        """How much each counter grew since ``before``; a counter that went down restarted from 0."""
        return Counts(_growth(self.sent, before.sent), _growth(self.failed, before.failed))


def _growth(now: int, before: int) -> int:
    return now - before if now >= before else now


def parse_metrics(text: str) -> dict[str, Counts]:
    """Sent and failed items per exporter id in a collector's /metrics text (Prometheus text format).

    Raises ValueError when the text is not in that format.
    """
    out: dict[str, Counts] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found = COUNTER.match(sample.name)
            exporter = sample.labels.get("exporter")
            if found is None or not exporter or not sample.value >= 0:
                continue
            value = int(sample.value)
            counts = Counts(sent=value) if found.group(1) == "sent" else Counts(failed=value)
            out[exporter] = out.get(exporter, Counts()) + counts
    return out


def per_sink(exporters: Mapping[str, Counts], sinks: Collection[str]) -> dict[str, Counts]:
    """Counts of ``sinks`` by name, from exporter ids ``<type>/<sink>``; other exporters are ignored."""
    out: dict[str, Counts] = {}
    for exporter, counts in exporters.items():
        _, _, sink = exporter.partition("/")
        if sink in sinks:
            out[sink] = out.get(sink, Counts()) + counts
    return out


Reading = Mapping[str, Mapping[str, Counts] | None]
"""One read of a stack's collector pods: per pod UID, counts per sink, or None when it did not answer."""

Memory = Mapping[str, Mapping[str, Counts]]
"""The counts of the previous read per pod UID (what the next read is compared with)."""


@dataclass(frozen=True)
class Observation:
    """What a read changes: the status to report and what to compare the next read with."""

    flow: DataFlow | None
    """None: no pod answered; the status stays as it is."""
    memory: dict[str, dict[str, Counts]] | None
    """None: still no baseline (nothing was read since the operator started)."""


def observe(
    previous: DataFlow | None, memory: Memory | None, reading: Reading, sinks: Sequence[str], now: str
) -> Observation:
    """Fold one read of the collector pods into the stack's data flow.

    ``memory`` is what :func:`observe` returned last time for this stack, None right after the
    operator started (this read is then a baseline: no failures or sends are "new").
    """
    read = {pod: counts for pod, counts in reading.items() if counts is not None}
    # A pod that did not answer keeps its last counts, so that it is not "new" when it answers again.
    kept = {pod: dict(memory[pod]) for pod, counts in reading.items() if counts is None and memory and pod in memory}
    if not read:
        return Observation(None, None if memory is None else kept)
    before = {s.sink: s for s in previous.sinks} if previous is not None else {}
    entries = []
    for sink in sinks:
        total, growth = Counts(), Counts()
        for pod, counts in read.items():
            current = counts.get(sink, Counts())
            total += current
            if memory is not None:
                growth += current.growth_since(memory.get(pod, {}).get(sink, Counts()))
        entries.append(_entry(before.get(sink) or SinkDataFlow(sink=sink), total, growth, now))
    return Observation(DataFlow(pods=len(read), sinks=entries), {**kept, **{p: dict(c) for p, c in read.items()}})


def _entry(old: SinkDataFlow, total: Counts, growth: Counts, now: str) -> SinkDataFlow:
    last_failure, since = old.last_failure_time, old.failing_since
    if growth.failed:
        last_failure, since = now, since or now
    elif growth.sent:
        since = None
    return SinkDataFlow(
        sink=old.sink, sent=total.sent, failed=total.failed, last_failure_time=last_failure, failing_since=since
    )


def keeps_failing(entry: SinkDataFlow) -> bool:
    """Whether a second read found failures after the first of the current run, with no clean read between."""
    return (
        entry.failing_since is not None
        and entry.last_failure_time is not None
        and entry.last_failure_time > entry.failing_since
    )


def issue(flow: DataFlow | None) -> Issue | None:
    """Degraded's reason and message when a sink keeps failing; None when none does.

    The message changes only when the set of failing sinks or their start changes (not with every count).
    """
    failing = [e for e in (flow.sinks if flow is not None else []) if keeps_failing(e)]
    if not failing:
        return None
    what = "; ".join(f"TelemetrySink/{e.sink}: exports have been failing since {e.failing_since}" for e in failing)
    return Issue(
        EXPORT_FAILING,
        f"{what} (status.dataFlow). Check that the destination is up and reachable from the collector pods "
        "and that its credentials are valid.",
    )


def from_status(status: Mapping[str, Any] | None) -> DataFlow | None:
    """The dataFlow a stack's status holds; None when it holds none (or something unreadable)."""
    raw = (status or {}).get("dataFlow")
    if not raw:
        return None
    try:
        return DataFlow.model_validate(raw)
    except ValidationError:
        return None


def to_status(flow: DataFlow) -> dict[str, Any]:
    """``flow`` as status stores it (unset times left out, as the API server returns them)."""
    return flow.model_dump(by_alias=True, mode="json", exclude_none=True)
