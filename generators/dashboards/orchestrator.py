"""The orchestrator platform's two dashboards: system overview and workflow metrics.

Read the orchestrator services' prom-client metrics, the node exporter and the
``orchestrator`` rule bundle's recording rules.
"""

from __future__ import annotations

from typing import Any

from generators.dashboards.core import (
    COUNT,
    NEUTRAL,
    PER_SECOND,
    PERCENT_UNIT,
    SECONDS,
    Board,
    Column,
    Query,
    above,
    bargauge_panel,
    below,
    bundle_alerts,
    count_stat_panel,
    increase,
    query_variable,
    rate,
    rate_by_panel,
    recorded,
    selector,
    standard_variables,
    stat_panel,
    table_panel,
    targets_up_panel,
    timeseries_panel,
)

SYSTEM = "orchestrator-system-overview"
WORKFLOWS = "orchestrator-workflows"

NODE_CPU = "orchestrator:node_cpu_utilisation:ratio_rate5m"
NODE_MEMORY = "orchestrator:node_memory_utilisation:ratio"
NODE_DISK = "orchestrator:node_filesystem_avail:ratio"
FAILED_STATUS = 'status=~"failed|failure|error|timeout"'


def _node(record: str) -> str:
    return f'{record}{{instance=~"$instance"}}'


def build_system() -> dict[str, Any]:
    """The orchestrator-system-overview dashboard as JSON data."""
    board = Board(
        SYSTEM,
        "Vigil / Orchestrator system overview",
        "Health and performance of the workflow orchestrator platform: service availability, "
        "HTTP traffic, errors and latency, and node CPU, memory and disk.",
        ["orchestrator"],
        [
            *standard_variables("http_requests_total"),
            query_variable("instance", "Node", f"label_values({NODE_CPU}, instance)"),
        ],
        alerts=bundle_alerts("orchestrator", ".system.alerts", ".application.alerts"),
        alert_job_filter=False,
    )
    requests = "http_requests_total"
    board.row("Health").add(
        targets_up_panel(
            "Targets up",
            "Share of the selected jobs' scrape targets that Prometheus reached at the last "
            "scrape (up). The ServiceDown alert fires for a target down for 1 minute.",
        ),
        stat_panel(
            "Request rate",
            "HTTP requests per second served by the selected jobs over 5 minutes (orchestrator:http_requests:rate5m).",
            [Query(f"sum({recorded('orchestrator:http_requests:rate5m')})")],
            unit="reqps",
            steps=below(0.001),
        ),
        stat_panel(
            "HTTP error ratio",
            "Highest share of 5xx responses among the selected jobs over 5 minutes "
            "(orchestrator:http_request_errors:ratio_rate5m). Red above 5 %, where the "
            "HighErrorRate alert fires.",
            [Query(f"max({recorded('orchestrator:http_request_errors:ratio_rate5m')})")],
            unit=PERCENT_UNIT,
            steps=above(0.05, warn=0.01),
        ),
        stat_panel(
            "p95 response time",
            "Highest 95th percentile HTTP response time among the selected jobs over 5 minutes "
            "(orchestrator:http_request_duration_seconds:p95_rate5m). Red above 1 s.",
            [Query(f"max({recorded('orchestrator:http_request_duration_seconds:p95_rate5m')})")],
            unit=SECONDS,
            steps=above(1, warn=0.5),
        ),
        stat_panel(
            "Busiest node CPU",
            "CPU utilisation of the busiest selected node over 5 minutes. Red above 80 %, "
            "where the HighCPUUsage alert fires.",
            [Query(f"max({_node(NODE_CPU)})")],
            unit=PERCENT_UNIT,
            steps=above(0.8, warn=0.7),
        ),
        stat_panel(
            "Fullest node memory",
            "Memory utilisation of the selected node that uses the most. Red above 85 %, "
            "where the HighMemoryUsage alert fires.",
            [Query(f"max({_node(NODE_MEMORY)})")],
            unit=PERCENT_UNIT,
            steps=above(0.85, warn=0.75),
        ),
    )
    board.row("HTTP traffic and availability").add(
        rate_by_panel(
            "Requests by status code",
            "HTTP requests per second, per status code.",
            requests,
            by="status_code",
            unit="reqps",
            stacked=True,
        ),
        timeseries_panel(
            "HTTP error ratio",
            "Share of HTTP requests answered with a 5xx status over 5 minutes, per job "
            "(orchestrator:http_request_errors:ratio_rate5m). HighErrorRate fires above 5 %.",
            [
                Query(
                    recorded("orchestrator:http_request_errors:ratio_rate5m"),
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=PERCENT_UNIT,
            steps=above(0.05),
        ),
        timeseries_panel(
            "Response time percentiles",
            "50th, 90th and 99th percentile HTTP response time of the selected jobs (http_request_duration_seconds).",
            [
                Query(
                    f"histogram_quantile({q}, {rate('http_request_duration_seconds_bucket', by='le')})",
                    f"p{round(q * 100)}",
                )
                for q in (0.5, 0.9, 0.99)
            ],
            unit=SECONDS,
            steps=above(1),
        ),
        timeseries_panel(
            "p95 response time by job",
            "95th percentile HTTP response time over 5 minutes, per job "
            "(orchestrator:http_request_duration_seconds:p95_rate5m). HighResponseTime fires "
            "above 1 s.",
            [
                Query(
                    recorded("orchestrator:http_request_duration_seconds:p95_rate5m"),
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=SECONDS,
            steps=above(1),
        ),
        bargauge_panel(
            "Busiest routes",
            "The ten routes with the most requests per second.",
            [Query(f"topk(10, {rate(requests, by='method, route')})", "{{method}} {{route}}")],
            unit="reqps",
            steps=NEUTRAL,
            width=12,
        ),
        timeseries_panel(
            "Targets up by job",
            "Scrape targets Prometheus reached, per job; a drop means a service instance is down (ServiceDown).",
            [Query(f"sum by (job) (up{selector()})", "{{job}}")],
            unit=COUNT,
        ),
    )
    board.row("Nodes").add(
        timeseries_panel(
            "CPU utilisation",
            "Share of non-idle CPU time per node over 5 minutes (node exporter). HighCPUUsage fires above 80 %.",
            [Query(_node(NODE_CPU), "{{instance}}")],
            unit=PERCENT_UNIT,
            steps=above(0.8),
            maximum=1,
            width=8,
        ),
        timeseries_panel(
            "Memory utilisation",
            "Share of memory in use per node (node exporter). HighMemoryUsage fires above 85 %.",
            [Query(_node(NODE_MEMORY), "{{instance}}")],
            unit=PERCENT_UNIT,
            steps=above(0.85),
            maximum=1,
            width=8,
        ),
        bargauge_panel(
            "Free disk space",
            "Share of free space per filesystem (pseudo filesystems left out). DiskSpaceLow fires below 10 %.",
            [Query(_node(NODE_DISK), "{{instance}} {{mountpoint}}")],
            unit=PERCENT_UNIT,
            steps=below(0.1, warn=0.2),
            maximum=1,
            width=8,
        ),
    )
    board.alerts_row(
        "The orchestrator bundle's system and application alerts that are pending or "
        "firing now: CPU, memory, disk, service availability, HTTP errors and latency.",
        list_description="Pending and firing alerts of the selected namespaces, from the rules of the "
        "selected data source. Node alerts carry the node exporter's namespace.",
    )
    return board.build()


def build_workflows() -> dict[str, Any]:
    """The orchestrator-workflows dashboard as JSON data."""
    alerts = bundle_alerts("orchestrator", ".application.alerts", ".business.alerts")
    workflow_alerts = tuple(a for a in alerts if a not in ("HighErrorRate", "HighResponseTime"))
    board = Board(
        WORKFLOWS,
        "Vigil / Orchestrator workflows",
        "Workflow executions and business metrics of the orchestrator platform: execution "
        "volume, success rate, queue backlog, logins and workflow creation.",
        ["orchestrator"],
        standard_variables("workflow_executions_total"),
        alerts=workflow_alerts,
    )
    executions = "workflow_executions_total"
    board.row("Workflow health").add(
        count_stat_panel(
            "Executions",
            "Workflow executions finished in the selected time range.",
            increase(executions),
            steps=below(1),
        ),
        stat_panel(
            "Success rate",
            "Share of the workflow executions finished in the selected time range that did "
            "not fail, error or time out. Red below 90 %, where WorkflowExecutionFailureRate "
            "fires.",
            [Query(f"1 - ({increase(executions, FAILED_STATUS)} or vector(0)) / {increase(executions)}")],
            unit=PERCENT_UNIT,
            steps=below(0.9, warn=0.95),
            decimals=1,
        ),
        count_stat_panel(
            "Executions in 5 minutes",
            "Workflow executions finished in the last 5 minutes "
            "(orchestrator:workflow_executions:increase5m). ExecutionVolumeSpike fires above "
            "100.",
            f"sum({recorded('orchestrator:workflow_executions:increase5m')})",
            steps=above(100),
        ),
        count_stat_panel(
            "Queue backlog",
            "Pending items in the fullest workflow queue (orchestrator:workflow_queue_size:max)."
            " QueueBacklog fires above 100.",
            f"max({recorded('orchestrator:workflow_queue_size:max')})",
            steps=above(100, warn=50),
        ),
        count_stat_panel(
            "Logins in the last hour",
            "User logins in the last hour (orchestrator:user_logins:increase1h). LowUserActivity fires below 10.",
            f"sum({recorded('orchestrator:user_logins:increase1h')})",
            steps=below(10),
        ),
        count_stat_panel(
            "Workflows created in the last hour",
            "Workflows created in the last hour (orchestrator:workflows_created:increase1h). "
            "WorkflowCreationDrop fires below 5.",
            f"sum({recorded('orchestrator:workflows_created:increase1h')})",
            steps=below(5),
        ),
    )
    board.row("Executions").add(
        rate_by_panel(
            "Executions by status",
            "Workflow executions finished per second, per status.",
            executions,
            by="status",
            stacked=True,
        ),
        timeseries_panel(
            "Execution failure ratio",
            "Share of workflow executions that failed over 5 minutes, per job "
            "(orchestrator:workflow_execution_failure:ratio_rate5m). "
            "WorkflowExecutionFailureRate fires above 10 %.",
            [
                Query(
                    recorded("orchestrator:workflow_execution_failure:ratio_rate5m"),
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=PERCENT_UNIT,
            steps=above(0.1),
        ),
        rate_by_panel(
            "Executions by engine",
            "Workflow executions finished per second, per engine type.",
            executions,
            by="engine_type",
            stacked=True,
        ),
        timeseries_panel(
            "Executions in 5 minutes",
            "Workflow executions finished in the last 5 minutes, per job "
            "(orchestrator:workflow_executions:increase5m). ExecutionVolumeSpike fires above "
            "100.",
            [
                Query(
                    recorded("orchestrator:workflow_executions:increase5m"),
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=COUNT,
            steps=above(100),
        ),
        table_panel(
            "Workflows",
            "Per workflow, in the selected time range: executions finished and executions that "
            "failed. Sorted by the first column in Grafana.",
            ["workflow_name"],
            [
                Column(
                    "Executions",
                    Query(increase(executions, by="workflow_name")),
                    COUNT,
                ),
                Column(
                    "Failed",
                    Query(increase(executions, FAILED_STATUS, by="workflow_name")),
                    COUNT,
                    above(1),
                ),
            ],
        ),
    )
    board.row("Queues").add(
        timeseries_panel(
            "Queue size",
            "Pending items per workflow queue (orchestrator:workflow_queue_size:max). "
            "QueueBacklog fires above 100 for 10 minutes.",
            [Query(recorded("orchestrator:workflow_queue_size:max"), "{{queue}}")],
            unit=COUNT,
            steps=above(100),
            width=24,
        ),
    )
    board.row("Business").add(
        timeseries_panel(
            "Logins per hour",
            "User logins in the previous hour (orchestrator:user_logins:increase1h). LowUserActivity fires below 10.",
            [Query(recorded("orchestrator:user_logins:increase1h"), "{{namespace}}/{{job}}")],
            unit=COUNT,
            steps=below(10),
            width=8,
        ),
        timeseries_panel(
            "Workflows created per hour",
            "Workflows created in the previous hour "
            "(orchestrator:workflows_created:increase1h). WorkflowCreationDrop fires below 5.",
            [
                Query(
                    recorded("orchestrator:workflows_created:increase1h"),
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=COUNT,
            steps=below(5),
            width=8,
        ),
        timeseries_panel(
            "Logins and creations",
            "User logins and workflow creations per second.",
            [
                Query(rate("user_logins_total"), "logins"),
                Query(rate("workflows_created_total"), "workflows created"),
            ],
            unit=PER_SECOND,
            width=8,
        ),
    )
    board.alerts_row(
        "The orchestrator bundle's workflow and business alerts that are pending or firing "
        "now: failure rate, queue backlog, logins, workflow creation and execution volume.",
    )
    return board.build()
