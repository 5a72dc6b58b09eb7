"""Which built-in rule bundles (rules/) a MonitoringStack installs, with threshold overrides."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from vigil.models.base import DNS_LABEL, VigilModel

BundleName = Annotated[str, StringConstraints(pattern=DNS_LABEL, min_length=1, max_length=63)]
ThresholdName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9]*$", min_length=1, max_length=63)]
ThresholdValue = Annotated[float, Field(allow_inf_nan=False)]


class RuleBundleSelection(VigilModel):
    """One built-in rule bundle, e.g. aureus, and thresholds to use instead of its defaults."""

    name: BundleName = Field(
        description="Bundle name from rules/bundles.yaml: aureus, orchestrator, http-slis, aet, "
        "blipee, collector, vigil-operator or health-checks."
    )
    thresholds: dict[ThresholdName, ThresholdValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Overrides by threshold name, e.g. taskFailureRatio: 0.1 (names and defaults "
        "are listed in rules/bundles.yaml).",
    )
