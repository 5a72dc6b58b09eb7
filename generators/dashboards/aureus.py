"""Aureus overview: the seed's monitoring dashboard (cards, event timeline, alert views).

Reads the Aureus Prometheus sink's metrics and the ``aureus`` rule bundle's recording rules.
As the seed's, it refreshes every 10 seconds and filters by workflow (``workflow_id``); the
recording rules sum over workflows, so the panels built on them show every workflow. The
seed's reflexion suggestions are not metrics and have no panel, and Aureus exports no
recovery time: mean task duration is what it measures, not the seed's time to recovery.
"""

from __future__ import annotations

from typing import Any

from generators.dashboards.core import (
    COUNT,
    PER_MINUTE,
    PER_SECOND,
    PERCENT_UNIT,
    SECONDS,
    Board,
    Query,
    above,
    below,
    bundle_alerts,
    count_stat_panel,
    increase,
    label_variable,
    rate,
    rate_by_panel,
    selector,
    standard_variables,
    stat_panel,
    timeseries_panel,
)

NAME = "aureus-overview"
WORKFLOW = 'workflow_id=~"$workflow"'
"""The seed's workflow filter, on every query of raw metrics (they carry workflow_id)."""


def build() -> dict[str, Any]:
    """The aureus-overview dashboard as JSON data."""
    completed = "aureus_tasks_completed_total"
    board = Board(
        NAME,
        "Vigil / Aureus overview",
        "Aureus agentic workflows: task success, CRV gate failures, policy denials, rollbacks, "
        "an event timeline and the alerts of the aureus rule bundle.",
        ["aureus"],
        [
            *standard_variables(completed),
            label_variable("workflow", "Workflow", completed, label_name="workflow_id"),
        ],
        alerts=bundle_alerts("aureus"),
        refresh="10s",
    )
    succeeded, failed = 'success="true"', 'success="false"'
    blocked, escalated = 'passed="false"', 'allowed="false"'
    board.row("Overview").add(
        stat_panel(
            "Success rate",
            "Share of the tasks of the selected workflows completed in the selected time range "
            "that succeeded (aureus_tasks_completed_total). Red below 95 %, the seed's alert threshold.",
            [Query(f"{increase(completed, succeeded, WORKFLOW)} / {increase(completed, WORKFLOW)}")],
            unit=PERCENT_UNIT,
            steps=below(0.95),
            decimals=1,
        ),
        count_stat_panel(
            "CRV failures",
            "CRV gate checks that failed and blocked a commit in the selected time range "
            '(aureus_crv_checks_total{passed="false"}). Red above 5.',
            increase("aureus_crv_checks_total", blocked, WORKFLOW),
            steps=above(5),
        ),
        count_stat_panel(
            "Policy denials",
            "Policy checks that were not allowed automatically and require human approval, "
            'in the selected time range (aureus_policy_checks_total{allowed="false"}). '
            "Orange above 10.",
            increase("aureus_policy_checks_total", escalated, WORKFLOW),
            steps=above(20, warn=10),
        ),
        count_stat_panel(
            "Rollbacks",
            "State restorations to a snapshot in the selected time range (aureus_rollbacks_total). Red above 5.",
            increase("aureus_rollbacks_total", WORKFLOW),
            steps=above(5),
        ),
        stat_panel(
            "Mean task duration",
            "Mean duration of the tasks completed in the selected time range "
            "(aureus_task_duration_ms, converted to seconds). Red above 30 s, where "
            "HighMeanTaskDuration fires. This is how long tasks run, not the seed's time to "
            "recovery, which Aureus does not export.",
            [
                Query(
                    f"{increase('aureus_task_duration_ms_sum', WORKFLOW)} / "
                    f"{increase('aureus_task_duration_ms_count', WORKFLOW)} / 1000"
                )
            ],
            unit=SECONDS,
            steps=above(30),
        ),
        count_stat_panel(
            "Tasks completed",
            "Tasks of the selected workflows completed, successfully or not, in the selected time range.",
            increase(completed, WORKFLOW),
            steps=below(1),
        ),
    )
    board.row("Tasks").add(
        timeseries_panel(
            "Task success rate",
            "Share of completed tasks that succeeded over 5 minutes, per deployment, all "
            "workflows (1 - aureus:task_failure:ratio_rate5m). The HighTaskFailureRate alert "
            "fires below 95 %.",
            [
                Query(
                    f"1 - aureus:task_failure:ratio_rate5m{selector()}",
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=PERCENT_UNIT,
            steps=below(0.95),
            maximum=1,
        ),
        rate_by_panel(
            "Tasks completed by result",
            "Completed tasks of the selected workflows per second, split by success.",
            completed,
            WORKFLOW,
            by="success",
            legend="success={{success}}",
            stacked=True,
        ),
        rate_by_panel(
            "Tasks completed by task type",
            "Completed tasks of the selected workflows per second, per task type.",
            completed,
            WORKFLOW,
            by="task_type",
            stacked=True,
        ),
        timeseries_panel(
            "Mean task duration",
            "Mean task duration over 5 minutes, per deployment, all workflows "
            "(aureus:task_duration_seconds:mean5m). The HighMeanTaskDuration alert fires "
            "above 30 s.",
            [
                Query(
                    f"aureus:task_duration_seconds:mean5m{selector()}",
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=SECONDS,
            steps=above(30),
        ),
    )
    board.row("Gates, policies and rollbacks").add(
        rate_by_panel(
            "CRV gate checks by result",
            "CRV gate checks of the selected workflows per second, split by whether they passed.",
            "aureus_crv_checks_total",
            WORKFLOW,
            by="passed",
            legend="passed={{passed}}",
            stacked=True,
        ),
        timeseries_panel(
            "CRV-blocked commits",
            "CRV gate checks that blocked a commit, per second over 5 minutes, all workflows "
            "(aureus:crv_blocked:rate5m). The CRVBlockageSpike alert fires above 0.5/s.",
            [Query(f"aureus:crv_blocked:rate5m{selector()}", "{{namespace}}/{{job}}")],
            unit=PER_SECOND,
            steps=above(0.5),
        ),
        timeseries_panel(
            "Policy escalation ratio",
            "Share of policy checks that required human approval over 5 minutes, all workflows "
            "(aureus:policy_escalation:ratio_rate5m). The PolicyEscalationSurge alert fires "
            "above 20 %.",
            [
                Query(
                    f"aureus:policy_escalation:ratio_rate5m{selector()}",
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=PERCENT_UNIT,
            steps=above(0.2),
            maximum=1,
        ),
        timeseries_panel(
            "Rollbacks in 10 minutes",
            "Rollbacks to a snapshot in the last 10 minutes, all workflows "
            "(aureus:rollbacks:increase10m). The HighRollbackRate alert fires above 5.",
            [Query(f"aureus:rollbacks:increase10m{selector()}", "{{namespace}}/{{job}}")],
            unit=COUNT,
            steps=above(5),
        ),
    )
    board.row("Event timeline").add(
        timeseries_panel(
            "Event timeline",
            "Notable events of the selected workflows per minute, as the seed's timeline lists "
            "them: failed tasks (step_end), CRV blocks (crv_result), policy escalations "
            "(policy_check) and rollbacks. Firing alerts are marked as annotations.",
            [
                Query(f"{rate(completed, failed, WORKFLOW)} * 60", "failed tasks"),
                Query(f"{rate('aureus_crv_checks_total', blocked, WORKFLOW)} * 60", "CRV blocks"),
                Query(
                    f"{rate('aureus_policy_checks_total', escalated, WORKFLOW)} * 60",
                    "policy escalations",
                ),
                Query(f"{rate('aureus_rollbacks_total', WORKFLOW)} * 60", "rollbacks"),
            ],
            unit=PER_MINUTE,
            bars=True,
            stacked=True,
            width=24,
        ),
    )
    board.alerts_row(
        "The aureus bundle's alerts that are pending or firing now (Prometheus ALERTS "
        "series): task failure rate, mean task duration, CRV blockages, rollbacks and "
        "policy escalations.",
    )
    return board.build()
