"""debug: print telemetry to the collector's log (the console sink)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.destinations.base import Destination, Exporter, ExporterContext, SinkOptions
from vigil.models.base import VigilModel


class DebugDestination(VigilModel):
    """Print telemetry to the collector's log (the console sink)."""

    verbosity: Literal["basic", "normal", "detailed"] = Field(
        default="basic", description="How much of each item is printed."
    )


def exporter(d: DebugDestination, _: SinkOptions, __: ExporterContext) -> Exporter:
    """A ``debug`` exporter."""
    return Exporter("debug", {"verbosity": d.verbosity})


DESTINATION = Destination(
    field="debug",
    model=DebugDestination,
    description="The collector's log (console).",
    components=("debug",),
    exporter=exporter,
    example={"verbosity": "basic"},
)
