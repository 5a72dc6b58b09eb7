"""The Vigil operator itself: reconciles, errors, latency, watches and Kubernetes API requests."""

from __future__ import annotations

from typing import Any

from generators.dashboards.core import (
    COUNT,
    NEUTRAL,
    PER_SECOND,
    PERCENT_UNIT,
    SECONDS,
    Board,
    Query,
    above,
    bundle_alerts,
    count_stat_panel,
    label_variable,
    rate,
    rate_by_panel,
    recorded,
    standard_variables,
    stat_panel,
    targets_up_panel,
    timeseries_panel,
)

NAME = "vigil-operator"

RECONCILES = "vigil_reconcile_total"
KIND = 'kind=~"$kind"'


def build() -> dict[str, Any]:
    """The vigil-operator dashboard as JSON data."""
    board = Board(
        NAME,
        "Vigil / Operator",
        "The Vigil operator: reconciliations by kind and result, their latency, watch events, "
        "managed objects and the Kubernetes API requests it sends.",
        ["operator"],
        [
            *standard_variables(RECONCILES),
            label_variable("kind", "Kind", RECONCILES),
        ],
        alerts=bundle_alerts("vigil-operator"),
    )
    board.row("Overview").add(
        targets_up_panel(
            "Operator up",
            "Share of the operator's scrape targets Prometheus reached at the last scrape. "
            "VigilOperatorDown fires after 5 minutes without one.",
        ),
        stat_panel(
            "Reconciles",
            "Reconciliations per second of the selected kinds.",
            [Query(rate(RECONCILES, KIND))],
            unit=PER_SECOND,
            steps=NEUTRAL,
        ),
        stat_panel(
            "Reconcile error ratio",
            "Highest share of failed reconciliations of a kind over 5 minutes "
            "(vigil:reconcile_errors:ratio_rate5m). Red above 10 %.",
            [Query(f"max({recorded('vigil:reconcile_errors:ratio_rate5m', KIND)}) or vector(0)")],
            unit=PERCENT_UNIT,
            steps=above(0.1, warn=0.01),
        ),
        stat_panel(
            "p99 reconcile time",
            "Highest 99th percentile reconciliation duration of a kind over 5 minutes "
            "(vigil:reconcile_duration_seconds:p99_rate5m). Red above 5 s.",
            [Query(f"max({recorded('vigil:reconcile_duration_seconds:p99_rate5m', KIND)})")],
            unit=SECONDS,
            steps=above(5, warn=2),
        ),
        stat_panel(
            "API error ratio",
            "Share of Kubernetes API requests answered with 5xx or 429 over 5 minutes "
            "(vigil:api_request_errors:ratio_rate5m). Red above 5 %.",
            [Query(f"max({recorded('vigil:api_request_errors:ratio_rate5m')}) or vector(0)")],
            unit=PERCENT_UNIT,
            steps=above(0.05, warn=0.01),
        ),
        count_stat_panel(
            "Managed objects",
            "Custom resources the operator manages (vigil:managed_objects:max).",
            f"sum({recorded('vigil:managed_objects:max', KIND)})",
        ),
    )
    board.row("Reconciles").add(
        rate_by_panel(
            "Reconciles by kind and result",
            "Reconciliations per second, per kind and result (success or error).",
            RECONCILES,
            KIND,
            by="kind, result",
            stacked=True,
        ),
        timeseries_panel(
            "Reconcile error ratio",
            "Share of failed reconciliations over 5 minutes, per kind "
            "(vigil:reconcile_errors:ratio_rate5m). VigilReconcileErrors fires above 10 %.",
            [Query(recorded("vigil:reconcile_errors:ratio_rate5m", KIND), "{{kind}}")],
            unit=PERCENT_UNIT,
            steps=above(0.1),
            maximum=1,
        ),
        timeseries_panel(
            "Reconcile latency",
            "50th and 90th percentile reconciliation duration of the selected kinds "
            "(vigil_reconcile_duration_seconds), and the 99th percentile per kind "
            "(vigil:reconcile_duration_seconds:p99_rate5m). VigilReconcileSlow fires above 5 s.",
            [
                *(
                    Query(
                        f"histogram_quantile({q}, {rate('vigil_reconcile_duration_seconds_bucket', KIND, by='le')})",
                        f"p{round(q * 100)}",
                    )
                    for q in (0.5, 0.9)
                ),
                Query(
                    recorded("vigil:reconcile_duration_seconds:p99_rate5m", KIND),
                    "p99 {{kind}}",
                ),
            ],
            unit=SECONDS,
            steps=above(5),
        ),
        timeseries_panel(
            "Mean reconcile time by kind",
            "Mean reconciliation duration per kind.",
            [
                Query(
                    f"{rate('vigil_reconcile_duration_seconds_sum', KIND, by='kind')} / "
                    f"({rate('vigil_reconcile_duration_seconds_count', KIND, by='kind')} > 0)",
                    "{{kind}}",
                )
            ],
            unit=SECONDS,
        ),
    )
    board.row("Watches and objects").add(
        rate_by_panel(
            "Watch events by kind",
            "Watch events received per second, per kind. None for an hour while objects are "
            "managed means a stuck watch (VigilWatchStalled).",
            "vigil_watch_events_total",
            KIND,
            by="kind",
        ),
        timeseries_panel(
            "Managed objects by kind",
            "Custom resources the operator manages, per kind (vigil:managed_objects:max).",
            [Query(recorded("vigil:managed_objects:max", KIND), "{{kind}}")],
            unit=COUNT,
        ),
    )
    requests = "vigil_api_requests_total"
    board.row("Kubernetes API requests").add(
        rate_by_panel(
            "API requests by verb",
            "Requests the operator sent to the Kubernetes API server per second, per verb.",
            requests,
            by="verb",
            stacked=True,
            width=8,
        ),
        rate_by_panel(
            "API requests by status code",
            "Requests to the Kubernetes API server per second, per HTTP status code.",
            requests,
            by="code",
            stacked=True,
            width=8,
        ),
        timeseries_panel(
            "API error ratio",
            "Share of Kubernetes API requests answered with 5xx or 429 over 5 minutes "
            "(vigil:api_request_errors:ratio_rate5m). VigilKubeAPIErrors fires above 5 %.",
            [Query(recorded("vigil:api_request_errors:ratio_rate5m"), "{{namespace}}/{{job}}")],
            unit=PERCENT_UNIT,
            steps=above(0.05),
            maximum=1,
            width=8,
        ),
    )
    board.alerts_row(
        "The vigil-operator bundle's alerts that are pending or firing now: reconcile "
        "errors and latency, API errors, stalled watches and availability.",
    )
    return board.build()
