"""The Autonomous Engineering Team (AET) system's four dashboards, as its seed lists them.

System overview, agent performance, error tracking and resource usage, on the metrics of AET's
Prometheus collector and the ``aet`` rule bundle's recording rules. AET exports no disk metric
and no recovery time: the disk panels read the volumes its pods mount (kubelet), the memory
limits come from cAdvisor and kube-state-metrics, and recovery times are measured from when
the task failure ratio and the scrape health (up) went bad and back.
"""

from __future__ import annotations

from typing import Any

from generators.dashboards.core import (
    BYTES,
    COUNT,
    PER_MINUTE,
    PERCENT,
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
    label_variable,
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

SYSTEM = "aet-system-overview"
AGENTS = "aet-agent-performance"
ERRORS = "aet-error-tracking"
RESOURCES = "aet-resource-usage"

TASKS = "aet_tasks_total"
NOT_SUCCEEDED = 'status!="success"'
ERROR_EVENTS = 'event_type=~"(?i).*(error|fail|exception).*"'
AGENT = 'agent=~"$agent"'
MEMORY_LIMIT = 8589934592  # the AETHighMemoryUsage default (8 GiB)
FAILURE_RATIO = 0.05  # the AETHighTaskFailureRate default
MINUTE_STEP = "1m"
"""Resolution of the recovery measures: the state is sampled once a minute over the range."""


def _alerts(*names: str) -> tuple[str, ...]:
    return tuple(a for a in bundle_alerts("aet") if a in names)


def _success_rate(*matchers: str) -> str:
    failed = increase(TASKS, NOT_SUCCEEDED, *matchers)
    return f"1 - ({failed} or vector(0)) / {increase(TASKS, *matchers)}"


def build_system() -> dict[str, Any]:
    """The aet-system-overview dashboard as JSON data."""
    board = Board(
        SYSTEM,
        "Vigil / AET system overview",
        "High-level health and performance of the Autonomous Engineering Team system: "
        "availability, task success, active tasks, latency and resource use.",
        ["aet"],
        standard_variables(TASKS),
        alerts=bundle_alerts("aet"),
    )
    board.row("Health").add(
        targets_up_panel(
            "Targets up",
            "Share of the selected jobs' scrape targets that Prometheus reached at the last "
            "scrape. AETDown fires for a target down for 5 minutes.",
        ),
        stat_panel(
            "Task success rate",
            "Share of the tasks finished in the selected time range that succeeded. Red below "
            "95 %, where AETHighTaskFailureRate fires for an agent.",
            [Query(_success_rate())],
            unit=PERCENT_UNIT,
            steps=below(0.95, warn=0.99),
            decimals=1,
        ),
        count_stat_panel(
            "Active tasks",
            "Tasks in progress now (aet:active_tasks:sum).",
            f"sum({recorded('aet:active_tasks:sum')})",
        ),
        stat_panel(
            "Slowest agent p95",
            "Highest 95th percentile agent response time over 5 minutes "
            "(aet:agent_response_seconds:p95_rate5m). Red above 5 s (AETAgentLatencyHigh).",
            [Query(f"max({recorded('aet:agent_response_seconds:p95_rate5m')})")],
            unit=SECONDS,
            steps=above(5, warn=2),
        ),
        stat_panel(
            "CPU usage",
            "Highest CPU usage reported by an AET instance, 5 minute average "
            "(aet:cpu_usage_percent:avg5m). Red above 80 % (AETHighCPUUsage).",
            [Query(f"max({recorded('aet:cpu_usage_percent:avg5m')})")],
            unit=PERCENT,
            steps=above(80, warn=60),
        ),
        stat_panel(
            "Memory usage",
            "Highest memory in use reported by an AET instance, 5 minute average "
            "(aet:memory_usage_bytes:avg5m). Red above 8 GiB, the AETHighMemoryUsage default.",
            [Query(f"max({recorded('aet:memory_usage_bytes:avg5m')})")],
            unit=BYTES,
            steps=above(MEMORY_LIMIT, warn=MEMORY_LIMIT * 0.75),
        ),
    )
    board.row("Tasks").add(
        rate_by_panel(
            "Tasks by status",
            "Tasks finished per second, per status.",
            TASKS,
            by="status",
            stacked=True,
        ),
        rate_by_panel(
            "Tasks by mode",
            "Tasks finished per second, per mode.",
            TASKS,
            by="mode",
            stacked=True,
        ),
        timeseries_panel(
            "Active tasks by mode",
            "Tasks in progress, per mode (aet:active_tasks:sum). AETTasksStuck fires when "
            "tasks are active but none finished in 30 minutes.",
            [Query(recorded("aet:active_tasks:sum"), "{{mode}}")],
            unit=COUNT,
            stacked=True,
        ),
        timeseries_panel(
            "p95 task duration by agent",
            "95th percentile task duration over 5 minutes, per agent (aet:task_duration_seconds:p95_rate5m).",
            [Query(recorded("aet:task_duration_seconds:p95_rate5m"), "{{agent}}")],
            unit=SECONDS,
        ),
    )
    board.row("Events").add(
        timeseries_panel(
            "Event log entries",
            "Entries written to AET's event log per minute, per event type.",
            [Query(f"{rate('aet_events_total', by='event_type')} * 60", "{{event_type}}")],
            unit=PER_MINUTE,
            bars=True,
            stacked=True,
            width=24,
        ),
    )
    board.alerts_row(
        "The aet bundle's alerts that are pending or firing now: task failures, agent "
        "latency, CPU, memory, error events, stuck tasks and availability.",
    )
    return board.build()


def build_agents() -> dict[str, Any]:
    """The aet-agent-performance dashboard as JSON data."""
    board = Board(
        AGENTS,
        "Vigil / AET agent performance",
        "Per-agent throughput, success, task duration and response time of the Autonomous "
        "Engineering Team system, and a side-by-side comparison of the agents.",
        ["aet"],
        [
            *standard_variables(TASKS),
            label_variable("agent", "Agent", TASKS),
        ],
        alerts=_alerts("AETHighTaskFailureRate", "AETAgentLatencyHigh"),
    )
    responses = "aet_agent_response_seconds_bucket"
    board.row("Comparison").add(
        table_panel(
            "Agent comparison",
            "Per agent, in the selected time range: tasks finished, the share that succeeded, "
            "and the current 95th percentile task duration and response time.",
            ["agent"],
            [
                Column("Tasks", Query(increase(TASKS, AGENT, by="agent")), COUNT),
                Column(
                    "Success rate",
                    Query(
                        f"1 - (({increase(TASKS, NOT_SUCCEEDED, AGENT, by='agent')}) "
                        f"or (0 * {increase(TASKS, AGENT, by='agent')})) / "
                        f"{increase(TASKS, AGENT, by='agent')}"
                    ),
                    PERCENT_UNIT,
                    below(0.95),
                ),
                Column(
                    "p95 task duration",
                    Query(f"max by (agent) ({recorded('aet:task_duration_seconds:p95_rate5m', AGENT)})"),
                    SECONDS,
                ),
                Column(
                    "p95 response time",
                    Query(f"max by (agent) ({recorded('aet:agent_response_seconds:p95_rate5m', AGENT)})"),
                    SECONDS,
                    above(5),
                ),
            ],
        ),
    )
    board.row("Throughput and success").add(
        rate_by_panel(
            "Tasks by agent",
            "Tasks finished per second, per agent.",
            TASKS,
            AGENT,
            by="agent",
        ),
        timeseries_panel(
            "Task failure ratio by agent",
            "Share of an agent's tasks that did not succeed over 5 minutes "
            "(aet:task_failure:ratio_rate5m). AETHighTaskFailureRate fires above 5 %.",
            [Query(recorded("aet:task_failure:ratio_rate5m", AGENT), "{{agent}}")],
            unit=PERCENT_UNIT,
            steps=above(0.05),
            maximum=1,
        ),
        rate_by_panel(
            "Requests by agent and operation",
            "Agent operations answered per second, per agent and operation (count of the response time histogram).",
            responses,
            'le="+Inf"',
            AGENT,
            by="agent, operation",
            width=24,
        ),
    )
    board.row("Latency").add(
        timeseries_panel(
            "p95 response time by agent",
            "95th percentile agent response time over 5 minutes "
            "(aet:agent_response_seconds:p95_rate5m). AETAgentLatencyHigh fires above 5 s.",
            [Query(recorded("aet:agent_response_seconds:p95_rate5m", AGENT), "{{agent}}")],
            unit=SECONDS,
            steps=above(5),
        ),
        timeseries_panel(
            "Median response time by operation",
            "50th percentile agent response time per agent and operation.",
            [
                Query(
                    f"histogram_quantile(0.5, {rate(responses, AGENT, by='agent, operation, le')})",
                    "{{agent}} {{operation}}",
                )
            ],
            unit=SECONDS,
            steps=above(5),
        ),
        timeseries_panel(
            "p95 task duration by agent",
            "95th percentile task duration over 5 minutes (aet:task_duration_seconds:p95_rate5m).",
            [Query(recorded("aet:task_duration_seconds:p95_rate5m", AGENT), "{{agent}}")],
            unit=SECONDS,
        ),
        timeseries_panel(
            "Task duration percentiles",
            "50th, 90th and 99th percentile task duration of the selected agents.",
            [
                Query(
                    f"histogram_quantile({q}, {rate('aet_task_duration_seconds_bucket', AGENT, by='le')})",
                    f"p{round(q * 100)}",
                )
                for q in (0.5, 0.9, 0.99)
            ],
            unit=SECONDS,
        ),
    )
    board.alerts_row(
        "The aet bundle's per-agent alerts that are pending or firing now: task failure rate and response time.",
    )
    return board.build()


def build_errors() -> dict[str, Any]:
    """The aet-error-tracking dashboard as JSON data."""
    board = Board(
        ERRORS,
        "Vigil / AET error tracking",
        "Error rates and types of the Autonomous Engineering Team system: failed tasks, error "
        "events in its event log, and tasks that make no progress.",
        ["aet"],
        standard_variables(TASKS),
        alerts=_alerts("AETHighTaskFailureRate", "AETErrorEvents", "AETTasksStuck", "AETDown"),
    )
    events = "aet_events_total"
    board.row("Errors").add(
        stat_panel(
            "Task failure ratio",
            "Share of the tasks finished in the selected time range that did not succeed. Red above 5 %.",
            [Query(f"({increase(TASKS, NOT_SUCCEEDED)} or vector(0)) / {increase(TASKS)}")],
            unit=PERCENT_UNIT,
            steps=above(0.05, warn=0.01),
            decimals=1,
            width=8,
        ),
        count_stat_panel(
            "Failed tasks",
            "Tasks that did not succeed in the selected time range.",
            increase(TASKS, NOT_SUCCEEDED),
            steps=above(1),
            width=8,
        ),
        count_stat_panel(
            "Error events",
            "Event log entries whose type names an error, a failure or an exception, in the selected time range.",
            increase(events, ERROR_EVENTS),
            steps=above(10),
            width=8,
        ),
    )
    board.row("Error rates").add(
        timeseries_panel(
            "Failed tasks by status",
            "Tasks that did not succeed per minute, per status and mode.",
            [Query(f"{rate(TASKS, NOT_SUCCEEDED, by='status, mode')} * 60", "{{status}} {{mode}}")],
            unit=PER_MINUTE,
            bars=True,
            stacked=True,
        ),
        timeseries_panel(
            "Task failure ratio by agent",
            "Share of an agent's tasks that did not succeed over 5 minutes "
            "(aet:task_failure:ratio_rate5m). AETHighTaskFailureRate fires above 5 %.",
            [Query(recorded("aet:task_failure:ratio_rate5m"), "{{agent}}")],
            unit=PERCENT_UNIT,
            steps=above(0.05),
            maximum=1,
        ),
        timeseries_panel(
            "Error events by type",
            "Error, failure and exception entries in the event log per minute, per type.",
            [Query(f"{rate(events, ERROR_EVENTS, by='event_type')} * 60", "{{event_type}}")],
            unit=PER_MINUTE,
            bars=True,
            stacked=True,
        ),
        timeseries_panel(
            "Error events in 10 minutes",
            "Error events per type in the last 10 minutes (aet:error_events:increase10m). "
            "AETErrorEvents fires above 10.",
            [Query(recorded("aet:error_events:increase10m"), "{{event_type}}")],
            unit=COUNT,
            steps=above(10),
        ),
        bargauge_panel(
            "Most frequent error types",
            "The ten error event types logged most often in the selected time range.",
            [
                Query(
                    f"topk(10, {increase(events, ERROR_EVENTS, by='event_type')})",
                    "{{event_type}}",
                    instant=True,
                )
            ],
            unit=COUNT,
            steps=above(10),
            width=24,
        ),
    )
    _recovery_rows(board)
    board.row("Progress").add(
        timeseries_panel(
            "Active and finished tasks",
            "Tasks in progress (aet:active_tasks:sum) against tasks finished in the last 30 "
            "minutes (aet:tasks:increase30m), per mode. Active tasks with none finished mean "
            "stuck work (AETTasksStuck).",
            [
                Query(recorded("aet:active_tasks:sum"), "active {{mode}}"),
                Query(recorded("aet:tasks:increase30m"), "finished in 30m {{mode}}"),
            ],
            unit=COUNT,
            width=24,
        ),
    )
    board.alerts_row(
        "The aet bundle's error alerts that are pending or firing now: task failures, error "
        "events, stuck tasks and availability.",
    )
    return board.build()


def _recovery_rows(board: Board) -> None:
    """How long failures lasted before the agents and the targets recovered (seed: recovery times)."""
    failing = f"({recorded('aet:task_failure:ratio_rate5m')} > bool {FAILURE_RATIO})"
    time_failing = f"sum by (namespace, job, agent) (sum_over_time({failing}[$__range:{MINUTE_STEP}])) * 60"
    recoveries = f"sum by (namespace, job, agent) (resets({failing}[$__range:{MINUTE_STEP}]))"
    down = f"sum by (namespace, job) ((1 - avg_over_time(up{selector()}[$__range])) * $__range_s)"
    outages = f"sum by (namespace, job) (resets(up{selector()}[$__range]))"
    board.row("Recovery").add(
        table_panel(
            "Recovery from task failures",
            "Per agent, over the selected time range: how long its 5-minute task failure ratio "
            "was above 5 % (where AETHighTaskFailureRate fires), how many times it came back "
            "below, and the mean time to recovery (time failing / recoveries). Sampled once a "
            "minute; an episode lasts at least as long as the ratio's 5-minute window.",
            ["namespace", "job", "agent"],
            [
                Column("Time failing", Query(time_failing), SECONDS),
                Column("Recoveries", Query(recoveries), COUNT),
                Column("Mean time to recovery", Query(f"{time_failing} / ({recoveries} > 0)"), SECONDS),
            ],
            width=12,
        ),
        table_panel(
            "Recovery from outages",
            "Per job, over the selected time range: how long its scrape targets were down "
            "(up == 0, summed over targets), how many outages began, and the mean time to "
            "recovery (downtime / outages). AETDown fires after 5 minutes down.",
            ["namespace", "job"],
            [
                Column("Downtime", Query(down), SECONDS),
                Column("Outages", Query(outages), COUNT),
                Column("Mean time to recovery", Query(f"{down} / ({outages} > 0)"), SECONDS),
            ],
            width=12,
        ),
    )


def build_resources() -> dict[str, Any]:
    """The aet-resource-usage dashboard as JSON data."""
    board = Board(
        RESOURCES,
        "Vigil / AET resource usage",
        "CPU and memory reported by the Autonomous Engineering Team system, its memory against "
        "the containers' limits, the disk of the volumes it mounts, and how much work it does with them.",
        ["aet"],
        standard_variables("aet_cpu_usage_percent"),
        alerts=_alerts("AETHighCPUUsage", "AETHighMemoryUsage", "AETMemoryNearLimit"),
    )
    cpu = "aet:cpu_usage_percent:avg5m"
    memory = "aet:memory_usage_bytes:avg5m"
    board.row("Now").add(
        bargauge_panel(
            "CPU usage by instance",
            "CPU usage reported by each AET instance, 5 minute average. AETHighCPUUsage fires above 80 %.",
            [Query(recorded(cpu), "{{instance}}")],
            unit=PERCENT,
            steps=above(80, warn=60),
            maximum=100,
        ),
        bargauge_panel(
            "Memory usage by instance",
            "Memory in use reported by each AET instance, 5 minute average. AETHighMemoryUsage "
            "fires above its threshold (8 GiB by default).",
            [Query(recorded(memory), "{{instance}}")],
            unit=BYTES,
            steps=above(MEMORY_LIMIT, warn=MEMORY_LIMIT * 0.75),
        ),
    )
    board.row("Over time").add(
        timeseries_panel(
            "CPU usage",
            "CPU usage reported by AET per instance (aet_cpu_usage_percent), and its 5 minute "
            "average (aet:cpu_usage_percent:avg5m).",
            [
                Query(f"aet_cpu_usage_percent{selector()}", "{{instance}}"),
                Query(recorded(cpu), "{{instance}} 5m average"),
            ],
            unit=PERCENT,
            steps=above(80),
            maximum=100,
        ),
        timeseries_panel(
            "Memory usage",
            "Memory in use reported by AET per instance (aet_memory_usage_bytes), and its 5 "
            "minute average (aet:memory_usage_bytes:avg5m).",
            [
                Query(f"aet_memory_usage_bytes{selector()}", "{{instance}}"),
                Query(recorded(memory), "{{instance}} 5m average"),
            ],
            unit=BYTES,
            steps=above(MEMORY_LIMIT),
        ),
    )
    limit = "aet:container_memory_limit:ratio"
    board.row("Memory against limits").add(
        bargauge_panel(
            "Memory of the limit by container",
            "Working set of each container of AET's pods as a share of its memory limit "
            "(aet:container_memory_limit:ratio, from cAdvisor and kube-state-metrics). "
            "AETMemoryNearLimit fires above 80 %; containers without a limit are not listed.",
            [Query(recorded(limit, job=False), "{{pod}}/{{container}}")],
            unit=PERCENT_UNIT,
            steps=above(0.8, warn=0.6),
            maximum=1,
        ),
        timeseries_panel(
            "Memory of the limit over time",
            "Working set of each container of AET's pods as a share of its memory limit.",
            [Query(recorded(limit, job=False), "{{pod}}/{{container}}")],
            unit=PERCENT_UNIT,
            steps=above(0.8),
            maximum=1,
        ),
    )
    board.row("Disk").add(
        bargauge_panel(
            "Volume usage",
            "Share of each persistent volume claim of AET's pods that is in use "
            "(aet:volume_usage:ratio, from the kubelet's volume stats). Red above 90 %.",
            [Query(recorded("aet:volume_usage:ratio", job=False), "{{persistentvolumeclaim}}")],
            unit=PERCENT_UNIT,
            steps=above(0.9, warn=0.8),
            maximum=1,
        ),
        timeseries_panel(
            "Free space",
            "Bytes left on each persistent volume claim of AET's pods (aet:volume_available:bytes).",
            [Query(recorded("aet:volume_available:bytes", job=False), "{{persistentvolumeclaim}}")],
            unit=BYTES,
        ),
    )
    per_job = "namespace, job"
    board.row("Efficiency").add(
        timeseries_panel(
            "Tasks per CPU percent",
            "Tasks finished per minute for each percent of CPU in use, per deployment: a "
            "falling line means the same work costs more CPU.",
            [
                Query(
                    f"sum by ({per_job}) (rate(aet_tasks_total{selector()}[$__rate_interval]))"
                    f" * 60 / (sum by ({per_job}) ({recorded(cpu)}) > 0)",
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=COUNT,
        ),
        timeseries_panel(
            "Memory per active task",
            "Memory in use divided by the tasks in progress, per deployment.",
            [
                Query(
                    f"sum by ({per_job}) ({recorded(memory)}) / "
                    f"(sum by ({per_job}) ({recorded('aet:active_tasks:sum')}) > 0)",
                    "{{namespace}}/{{job}}",
                )
            ],
            unit=BYTES,
        ),
    )
    board.alerts_row(
        "The aet bundle's resource alerts that are pending or firing now: CPU, memory and memory against the limits.",
    )
    return board.build()
