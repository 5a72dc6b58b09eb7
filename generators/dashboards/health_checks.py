"""Health checks: the HTTP endpoints MonitoringStacks' collectors call (``spec.healthChecks``).

Reads the ``health-checks`` rule bundle's recording rules (``health_check:up``,
``health_check:duration_milliseconds:avg5m``) and the http_check receiver's metrics as Vigil's
collector config labels them: ``health_check`` (the check's name), ``expected_status``,
``namespace`` and ``pod`` on ``httpcheck_status``, ``httpcheck_duration_milliseconds`` and
``httpcheck_error`` (checked against a real collector). Checks are per stack, not per scrape
job: the variables are namespace and check.
"""

from __future__ import annotations

from typing import Any

from generators.dashboards.core import (
    COUNT,
    MILLISECONDS,
    NEUTRAL,
    PERCENT_UNIT,
    Board,
    Column,
    Query,
    above,
    below,
    bundle_alerts,
    datasource_variable,
    query_variable,
    selector,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from vigil.render.collector_config import CHECK_LABEL, EXPECTED_LABEL

NAME = "health-checks"
BUNDLE = "health-checks"

CHECK = f'{CHECK_LABEL}=~"$check"'
SELECTED = selector(CHECK, job=False)
UP = f"health_check:up{SELECTED}"
MEAN_TIME = f"health_check:duration_milliseconds:avg5m{SELECTED}"
LEGEND = "{{namespace}}/{{" + CHECK_LABEL + "}}"
SLOW_MS = 100
"""The bundle's default slowMilliseconds (HealthCheckSlow), the seeds' target for health endpoints."""


def build() -> dict[str, Any]:
    """The health-checks dashboard as JSON data."""
    board = Board(
        NAME,
        "Vigil / Health checks",
        "The HTTP endpoints MonitoringStacks' collectors call (spec.healthChecks), such as the "
        "seeds' /health, /ready, /live and /status: whether each answers with a status it "
        "expects, how long it takes, why it fails, and the health-checks bundle's alerts. "
        "Checks belong to stacks, not scrape jobs: there is no job variable.",
        ["health-checks", "http"],
        [
            datasource_variable(),
            query_variable("namespace", "Namespace", "label_values(httpcheck_duration_milliseconds, namespace)"),
            query_variable(
                "check",
                "Check",
                f'label_values(httpcheck_duration_milliseconds{{namespace=~"$namespace"}}, {CHECK_LABEL})',
            ),
        ],
        alerts=bundle_alerts(BUNDLE),
        alert_matchers=[CHECK],
        alert_job_filter=False,
        alert_text="{{severity}}: {{alertname}} is firing for {{namespace}}/{{" + CHECK_LABEL + "}}",
    )
    board.row("Overview").add(
        stat_panel(
            "Checks",
            "Health checks of the selected namespaces reporting now.",
            [Query(f"count({UP}) or vector(0)")],
            unit=COUNT,
            steps=NEUTRAL,
            width=6,
        ),
        stat_panel(
            "Up",
            "Share of the selected checks whose last answer had an expected status (health_check:up). Red below 100 %.",
            [Query(f"avg({UP})")],
            unit=PERCENT_UNIT,
            steps=below(1),
            width=6,
        ),
        stat_panel(
            "Down",
            "Checks without an expected answer now: refused, timed out or another status "
            "class. HealthCheckDown fires for one down 2 minutes.",
            [Query(f"count({UP} == 0) or vector(0)")],
            unit=COUNT,
            steps=above(1),
            width=6,
        ),
        stat_panel(
            "Slowest",
            "Mean time of the slowest check over 5 minutes "
            f"(health_check:duration_milliseconds:avg5m). Red above {SLOW_MS} ms, the "
            "bundle's default slowMilliseconds.",
            [Query(f"max({MEAN_TIME})")],
            unit=MILLISECONDS,
            steps=above(SLOW_MS, warn=SLOW_MS / 2),
            width=6,
        ),
    )
    board.row("Health checks").add(
        table_panel(
            "Checks",
            "One row per check: the URL it calls, the status classes it expects, whether its "
            "last answer was one of them, its mean time over 5 minutes and the share of the "
            "dashboard's time range it was up.",
            ["namespace", CHECK_LABEL, "http_url", EXPECTED_LABEL],
            [
                Column("Up", Query(UP), COUNT, below(1)),
                Column("Mean time (5m)", Query(MEAN_TIME), MILLISECONDS, above(SLOW_MS)),
                Column(
                    "Up over the range",
                    Query(f"avg_over_time({UP}[$__range])"),
                    PERCENT_UNIT,
                    below(1),
                ),
            ],
        ),
        timeseries_panel(
            "Up",
            "1 while a check's last answer had an expected status, 0 while it is down (health_check:up).",
            [Query(UP, LEGEND)],
            unit=COUNT,
            steps=below(1),
            maximum=1,
        ),
        timeseries_panel(
            "Response time",
            "How long each check took (httpcheck_duration_milliseconds; the slowest collector "
            f"pod when several run it). HealthCheckSlow fires when the 5-minute mean stays above "
            f"{SLOW_MS} ms for 10 minutes.",
            [Query(f"max by (namespace, {CHECK_LABEL}) (httpcheck_duration_milliseconds{SELECTED})", LEGEND)],
            unit=MILLISECONDS,
            steps=above(SLOW_MS),
        ),
        timeseries_panel(
            "Answers by status class",
            "The status class each check got (httpcheck_status == 1). A check that got no "
            "answer at all is missing here: see the errors.",
            [
                Query(
                    f"max by (namespace, {CHECK_LABEL}, http_status_class) (httpcheck_status{SELECTED} == 1)",
                    LEGEND + " {{http_status_class}}",
                )
            ],
            unit=COUNT,
            bars=True,
            stacked=True,
        ),
        timeseries_panel(
            "Errors",
            "Checks that got no answer, with the reason (httpcheck_error): connection refused, "
            "no such host, a timeout or a TLS error. The collector keeps reporting an error up "
            "to 5 minutes after the check passes again.",
            [
                Query(
                    f"max by (namespace, {CHECK_LABEL}, error_message) (httpcheck_error{SELECTED})",
                    LEGEND + ": {{error_message}}",
                )
            ],
            unit=COUNT,
            steps=above(1),
        ),
    )
    board.alerts_row(
        "The health-checks bundle's alerts that are pending or firing now: checks down and checks slow.",
        list_description="Pending and firing alerts of the selected namespaces and checks, from the rules of "
        "the selected data source.",
        list_filter=[f'{CHECK_LABEL}=~"${{check:regex}}"'],
        keys=("alertname", "alertstate", "severity", "namespace", CHECK_LABEL),
    )
    return board.build()
