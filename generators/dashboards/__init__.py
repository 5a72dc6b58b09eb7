"""Vigil's built-in Grafana dashboards, generated with grafana-foundation-sdk.

``python -m generators.dashboards`` rewrites ``dashboards/<name>.json`` from these modules; a unit
test fails when the committed files differ. The operator never imports this package
(grafana-foundation-sdk is a development dependency): it ships the committed JSON files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from generators.dashboards import aet, aureus, blipee, collector, health_checks, orchestrator, slo, vigil_operator
from generators.dashboards.core import to_json

BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    aureus.NAME: aureus.build,
    orchestrator.SYSTEM: orchestrator.build_system,
    orchestrator.WORKFLOWS: orchestrator.build_workflows,
    aet.SYSTEM: aet.build_system,
    aet.AGENTS: aet.build_agents,
    aet.ERRORS: aet.build_errors,
    aet.RESOURCES: aet.build_resources,
    blipee.SYSTEM: blipee.build_system,
    blipee.AGENTS: blipee.build_agents,
    blipee.MODELS: blipee.build_models,
    blipee.BUSINESS: blipee.build_business,
    blipee.NETWORK: blipee.build_network,
    collector.NAME: collector.build,
    vigil_operator.NAME: vigil_operator.build,
    slo.NAME: slo.build,
    health_checks.NAME: health_checks.build,
}
"""Every built-in dashboard by name (the file is dashboards/<name>.json)."""


def generate() -> dict[str, str]:
    """The committed text of every dashboard, by file name."""
    return {f"{name}.json": to_json(build()) for name, build in BUILDERS.items()}
