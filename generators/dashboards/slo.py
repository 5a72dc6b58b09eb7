"""SLO overview: error budget and burn rate of every AlertPolicy with an ``slo``.

Reads the recording rules render/alerts.py writes for an SLO policy, whose names are imported
from there: the error ratio per window (``vigil:slo_errors:ratio_rate<window>``) and the share
of the period's error budget left (``vigil:slo_error_budget_remaining:ratio``), each labelled
``vigil_policy: <namespace>/<name>``. The period burn rate is 1 - budget remaining, so no panel
depends on the length of a policy's period.
"""

from __future__ import annotations

from typing import Any

from generators.dashboards.core import (
    COUNT,
    PERCENT_UNIT,
    Board,
    Column,
    Query,
    above,
    bargauge_panel,
    below,
    datasource_variable,
    query_variable,
    table_panel,
    timeseries_panel,
)
from vigil.api import POLICY_LABEL
from vigil.render.alerts import SLO_BUDGET_REMAINING, slo_record_name

NAME = "slo-overview"

ERROR_RATIO_PREFIX = slo_record_name("")
"""Every SLO error-ratio recording rule's name starts so; the window follows."""

POLICY = f'{POLICY_LABEL}=~"$policy"'
BUDGET = f"{SLO_BUDGET_REMAINING}{{{POLICY}}}"
LEGEND = "{{" + POLICY_LABEL + "}}"


def _per_policy(expr: str) -> str:
    return f"max by ({POLICY_LABEL}) ({expr})"


def build() -> dict[str, Any]:
    """The slo-overview dashboard as JSON data."""
    board = Board(
        NAME,
        "Vigil / SLO overview",
        "Every service level objective declared in an AlertPolicy: how much of its error "
        "budget is left in the period, how fast it burns, its error ratio over each alert "
        "window, and its burn-rate alerts. SLO rules are per policy, not per job: there is no "
        "job variable.",
        ["slo"],
        [
            datasource_variable(),
            query_variable(
                "namespace",
                "Namespace",
                f"label_values({SLO_BUDGET_REMAINING}, {POLICY_LABEL})",
            ).regex("/^([^/]+)\\//"),
            query_variable(
                "policy",
                "AlertPolicy",
                f'label_values({SLO_BUDGET_REMAINING}{{{POLICY_LABEL}=~"($namespace)/.*"}}, {POLICY_LABEL})',
                match_all=False,
            ),
        ],
        alert_matchers=[POLICY],
        alert_job_filter=False,
        alert_text="{{severity}}: {{alertname}} is firing for {{" + POLICY_LABEL + "}}",
    )
    board.row("Error budgets").add(
        table_panel(
            "SLOs",
            "One row per SLO AlertPolicy: the share of its error budget left in the period, "
            "its burn rate over the period (1 spends the budget exactly by the period's end), "
            "and its burn-rate alerts firing now.",
            [POLICY_LABEL],
            [
                Column(
                    "Budget remaining",
                    Query(_per_policy(BUDGET)),
                    PERCENT_UNIT,
                    below(0, warn=0.25),
                ),
                Column("Period burn rate", Query(f"1 - {_per_policy(BUDGET)}"), COUNT, above(1)),
                Column(
                    "Alerts firing",
                    Query(f'count by ({POLICY_LABEL}) (ALERTS{{{POLICY}, alertstate="firing"}})'),
                    COUNT,
                    above(1),
                ),
            ],
            width=14,
        ),
        bargauge_panel(
            "Error budget remaining",
            f"Share of each SLO's error budget left in its period ({SLO_BUDGET_REMAINING}); "
            "below 0 the objective is missed.",
            [Query(_per_policy(BUDGET), LEGEND)],
            unit=PERCENT_UNIT,
            steps=below(0, warn=0.25),
            minimum=None,
            maximum=1,
            width=10,
        ),
    )
    windows = (
        f'label_replace({{__name__=~"{ERROR_RATIO_PREFIX}.+", {POLICY}}}, '
        f'"window", "$1", "__name__", "{ERROR_RATIO_PREFIX}(.+)")'
    )
    board.row("Burn rate").add(
        timeseries_panel(
            "Period burn rate",
            "How fast each SLO spends its error budget over its whole period (1 - budget "
            "remaining): above 1 the budget runs out before the period ends.",
            [Query(f"1 - {_per_policy(BUDGET)}", LEGEND)],
            unit=COUNT,
            steps=above(1),
        ),
        timeseries_panel(
            "Error budget remaining",
            "Share of each SLO's error budget left in its period, over time.",
            [Query(_per_policy(BUDGET), LEGEND)],
            unit=PERCENT_UNIT,
            steps=below(0, warn=0.25),
            minimum=None,
            maximum=1,
        ),
        timeseries_panel(
            "Error ratio by window",
            f"Share of bad events of each SLO over each window it records "
            f"({ERROR_RATIO_PREFIX}<window>): the short and long windows of its burn-rate "
            "alerts and its period. The page alerts fire when a long and its short window are "
            "both above 14.4x or 6x the error budget, the ticket alerts at 3x or 1x.",
            [Query(windows, LEGEND + " {{window}}")],
            unit=PERCENT_UNIT,
            width=24,
        ),
    )
    board.alerts_row(
        "Burn-rate alerts of the selected AlertPolicies that are pending or firing now.",
        list_description="Pending and firing burn-rate alerts of the selected AlertPolicies, from the rules "
        "of the selected data source.",
        list_filter=[f'{POLICY_LABEL}=~"${{policy:regex}}"'],
        keys=("alertname", "alertstate", "severity", POLICY_LABEL),
    )
    return board.build()
