"""Signals, and how a sink's exports are retried and queued (shared by every destination)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.models.base import CelRule, GoDuration, VigilModel, fits_go_duration, go_seconds

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: tuple[Signal, ...] = ("traces", "metrics", "logs")


class Retry(VigilModel):
    """Retry of failed exports (exponential backoff)."""

    cel_rules = (
        CelRule(
            rule="duration(self.maxElapsedTime) == duration('0s') || "
            "(duration(self.maxElapsedTime) >= duration(self.initialInterval) && "
            "duration(self.maxElapsedTime) >= duration(self.maxInterval))",
            message="maxElapsedTime must be 0s (never give up) or at least initialInterval and maxInterval",
            check=lambda m: (
                fits_go_duration(m.initial_interval, m.max_interval, m.max_elapsed_time)
                and (
                    go_seconds(m.max_elapsed_time) == 0
                    or go_seconds(m.max_elapsed_time) >= max(go_seconds(m.initial_interval), go_seconds(m.max_interval))
                )
            ),
        ),
    )

    enabled: bool = Field(default=True, description="Retry failed exports.")
    initial_interval: GoDuration = Field(default="5s", description="First wait.")
    max_interval: GoDuration = Field(default="30s", description="Longest wait.")
    max_elapsed_time: GoDuration = Field(default="300s", description="Give up after this long (0s: never).")


class Queue(VigilModel):
    """In-memory sending queue in front of the exporter."""

    enabled: bool = Field(default=True, description="Queue exports in memory.")
    size: int = Field(default=1000, ge=1, le=1000000, description="Batches the queue holds.")
    consumers: int = Field(default=10, ge=1, le=1000, description="Parallel senders.")
