"""Which built-in rule bundles (rules/) a MonitoringStack installs, whose series they read, and
who is told about their alerts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from vigil.models.base import DNS_LABEL, VigilModel
from vigil.models.policy import DEFAULT_ROUTING, Receiver, Routing, unique_receivers

BundleName = Annotated[str, StringConstraints(pattern=DNS_LABEL, min_length=1, max_length=63)]
ThresholdName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9]*$", min_length=1, max_length=63)]
ThresholdValue = Annotated[float, Field(allow_inf_nan=False)]
Scope = Literal["namespace", "cluster"]


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
    scope: Scope = Field(
        default="namespace",
        description="Whose series the rules read. namespace: only series whose namespace label is "
        "the stack's namespace. cluster: every namespace's (e.g. node metrics); the operator allows "
        "it only for stacks in the namespaces its --cluster-rule-namespaces names.",
    )


class BundleAlerting(VigilModel):
    """Who is told about the alerts of the stack's rule bundles (an AlertmanagerConfig)."""

    receivers: list[Receiver] = Field(
        min_length=1,
        max_length=16,
        description="Who gets told, by severity; Secrets by reference as in an AlertPolicy.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    routing: Routing | None = Field(
        default=None,
        description="Grouping, wait and cooldown (repeatInterval); defaults apply when unset. "
        "Bundle alerts have one severity each, so inhibit has nothing to silence.",
    )

    @field_validator("receivers")
    @classmethod
    def _unique_receivers(cls, receivers: list[Receiver]) -> list[Receiver]:
        return unique_receivers(receivers)

    @property
    def effective_routing(self) -> Routing:
        """routing, or its defaults."""
        return self.routing or DEFAULT_ROUTING
