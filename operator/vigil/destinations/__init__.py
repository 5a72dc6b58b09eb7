"""Every sink type Vigil can export to, one module each; this registry is the only list of them.

Adding a destination: write its module (model, exporter, example) and add it below; see
docs/adding-a-sink.md.
"""

from __future__ import annotations

from typing import Any

from vigil.destinations import debug, file, kafka, loki, otlp, prometheus, remote_write
from vigil.destinations.base import Destination

DESTINATIONS: tuple[Destination[Any], ...] = (
    otlp.DESTINATION,
    remote_write.DESTINATION,
    prometheus.DESTINATION,
    kafka.DESTINATION,
    file.DESTINATION,
    debug.DESTINATION,
    loki.DESTINATION,
)
BY_FIELD = {d.field: d for d in DESTINATIONS}


def components() -> dict[str, set[str]]:
    """Exporter and extension types the destinations may use, by config section."""
    return {
        "exporters": {c for d in DESTINATIONS for c in d.components},
        "extensions": {e for d in DESTINATIONS for e in d.extensions},
    }
