"""Signals, and how a sink's exports are retried and queued (shared by every destination)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.models.base import GoDuration, VigilModel

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: tuple[Signal, ...] = ("traces", "metrics", "logs")


class Retry(VigilModel):
    """Retry of failed exports (exponential backoff)."""

    enabled: bool = Field(default=True, description="Retry failed exports.")
    initial_interval: GoDuration = Field(default="5s", description="First wait.")
    max_interval: GoDuration = Field(default="30s", description="Longest wait.")
    max_elapsed_time: GoDuration = Field(default="300s", description="Give up after this long (0s: never).")


class Queue(VigilModel):
    """In-memory sending queue in front of the exporter."""

    enabled: bool = Field(default=True, description="Queue exports in memory.")
    size: int = Field(default=1000, ge=1, le=1000000, description="Batches the queue holds.")
    consumers: int = Field(default=10, ge=1, le=1000, description="Parallel senders.")
