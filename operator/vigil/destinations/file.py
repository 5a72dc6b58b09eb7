"""file: write telemetry to a file under the collector's data root (an emptyDir volume)."""

from __future__ import annotations

import posixpath
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from vigil.destinations.base import ConfigValue, Destination, Exporter, ExporterContext, SinkOptions
from vigil.models.base import CelRule, VigilModel, matches

DATA_ROOT = "/var/lib/vigil"
"""The only directory tree file sinks may write to: nothing of the image or the pod lives there."""
FILE_PATH = r"^/var/lib/vigil(/[A-Za-z0-9_][-A-Za-z0-9_.]*)+$"


class FileRotation(VigilModel):
    """When to start a new file."""

    max_megabytes: int = Field(default=100, ge=1, le=102400, description="Size of one file.")
    max_days: int = Field(default=0, ge=0, le=3650, description="Days to keep old files (0: all).")
    max_backups: int = Field(default=10, ge=0, le=1000, description="Old files to keep.")


class FileDestination(VigilModel):
    """Write telemetry to a file in the collector pod (an emptyDir volume under /var/lib/vigil)."""

    cel_rules = (
        CelRule(
            rule=f"self.path.matches(r'{FILE_PATH}')",
            message=f"path must be a file under {DATA_ROOT}, e.g. {DATA_ROOT}/events.jsonl, each part starting "
            "with a letter, digit or underscore (no '.', '..' or hidden names)",
            check=lambda m: matches(FILE_PATH, m.path),
        ),
    )

    path: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description=f"Absolute path of the file under {DATA_ROOT}, e.g. {DATA_ROOT}/telemetry.jsonl. "
        "Each part starts with a letter, digit or underscore (no '.', '..' or hidden names). "
        "Its directory is an emptyDir volume."
    )
    format: Literal["json", "proto"] = Field(default="json", description="Line format.")
    rotation: FileRotation | None = Field(default=None, description="Rotation; omit for none.")


def exporter(d: FileDestination, _: SinkOptions, ctx: ExporterContext) -> Exporter:
    """A ``file`` exporter; its directory becomes a volume of the collector pod."""
    ctx.directory("path", posixpath.dirname(d.path))
    config: dict[str, ConfigValue] = {"path": d.path, "format": d.format}
    if d.rotation is not None:
        config["rotation"] = {
            "max_megabytes": d.rotation.max_megabytes,
            "max_days": d.rotation.max_days,
            "max_backups": d.rotation.max_backups,
        }
    return Exporter("file", config)


DESTINATION = Destination(
    field="file",
    model=FileDestination,
    description="File in the collector pod.",
    components=("file",),
    exporter=exporter,
    example={"path": f"{DATA_ROOT}/events.jsonl", "rotation": {"maxMegabytes": 50}},
)
