"""blipee OS's five dashboards, as its seed lists them.

System overview, agent performance, ML models, business metrics and network intelligence, on
the metrics of blipee's telemetry service and the ``blipee`` rule bundle's recording rules.
The seed's "insights" of the network are not metrics and have no panel.
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
    label_variable,
    rate,
    recorded,
    selector,
    standard_variables,
    stat_panel,
    table_panel,
    targets_up_panel,
    timeseries_panel,
)

SYSTEM = "blipee-system-overview"
AGENTS = "blipee-agent-performance"
MODELS = "blipee-ml-models"
BUSINESS = "blipee-business-metrics"
NETWORK = "blipee-network-intelligence"

REQUESTS = "api_requests_total"
EXECUTIONS = "agent_executions_total"
PREDICTIONS = "ml_predictions_total"
SERVER_ERRORS = 'status=~"5.."'
AGENT = 'agent=~"$agent"'
MODEL = 'model=~"$model"'
TAGS = ["blipee"]


def _alerts(*names: str) -> tuple[str, ...]:
    return tuple(a for a in bundle_alerts("blipee") if a in names)


def _board(name: str, title: str, description: str, variables: list[Any], alerts: tuple[str, ...]) -> Board:
    return Board(name, f"Vigil / blipee {title}", description, TAGS, variables, alerts=alerts)


def build_system() -> dict[str, Any]:
    """The blipee-system-overview dashboard as JSON data."""
    board = _board(
        SYSTEM,
        "system overview",
        "Health, uptime and request rate of blipee OS: its API's traffic, errors and latency, and its database.",
        standard_variables(REQUESTS),
        _alerts("BlipeeHighAPILatency", "BlipeeDatabaseConnectionIssues"),
    )
    board.row("Health").add(
        targets_up_panel(
            "Targets up",
            "Share of the selected jobs' scrape targets that Prometheus reached at the last scrape (up).",
        ),
        stat_panel(
            "Uptime",
            "Share of the selected time range in which the scrape targets were up. The "
            "seed's objective is 99.9 % (the http-slis bundle's HTTPUptimeSLOBreach).",
            [Query(f"avg(avg_over_time(up{selector()}[$__range]))")],
            unit=PERCENT_UNIT,
            steps=below(0.999, warn=0.9995),
            decimals=2,
        ),
        stat_panel(
            "Request rate",
            "API requests per second, all endpoints.",
            [Query(rate(REQUESTS))],
            unit=PER_SECOND,
            steps=NEUTRAL,
        ),
        stat_panel(
            "Error ratio",
            "Share of the API requests answered with a 5xx status in the selected time range. "
            "Red above 1 %, the seed's objective.",
            [Query(f"({increase(REQUESTS, SERVER_ERRORS)} or vector(0)) / {increase(REQUESTS)}")],
            unit=PERCENT_UNIT,
            steps=above(0.01, warn=0.005),
            decimals=2,
        ),
        stat_panel(
            "Mean API latency",
            "Highest mean API request duration over 5 minutes "
            "(blipee:api_request_duration_seconds:mean5m). BlipeeHighAPILatency fires above 2 s.",
            [Query(f"max({recorded('blipee:api_request_duration_seconds:mean5m')})")],
            unit=SECONDS,
            steps=above(2, warn=1),
        ),
        count_stat_panel(
            "Database failures",
            "Failed database operations and connection-pool timeouts in the last 5 minutes "
            "(blipee:db_client_failures:increase5m). BlipeeDatabaseConnectionIssues fires on any.",
            f"sum({recorded('blipee:db_client_failures:increase5m')}) or vector(0)",
            steps=above(1),
        ),
    )
    board.row("API traffic").add(
        timeseries_panel(
            "Requests by status",
            "API requests per second, per HTTP status (blipee:api_requests:rate5m).",
            [Query(f"sum by (status) ({recorded('blipee:api_requests:rate5m')})", "{{status}}")],
            unit=PER_SECOND,
            stacked=True,
        ),
        timeseries_panel(
            "Errors by endpoint",
            "API errors per second, per endpoint (api_errors_total, blipee:api_errors:rate5m).",
            [Query(recorded("blipee:api_errors:rate5m"), "{{endpoint}}")],
            unit=PER_SECOND,
            stacked=True,
        ),
        timeseries_panel(
            "API latency",
            "Mean API request duration over 5 minutes (blipee:api_request_duration_seconds:mean5m; "
            "BlipeeHighAPILatency fires above 2 s), and the 95th percentile (the seed's "
            "objective is 500 ms).",
            [
                Query(recorded("blipee:api_request_duration_seconds:mean5m"), "mean {{namespace}}/{{job}}"),
                Query(
                    "histogram_quantile(0.95, sum by (namespace, job, le) "
                    f"(rate(api_request_duration_ms_bucket{selector()}[$__rate_interval]))) / 1000",
                    "p95 {{namespace}}/{{job}}",
                ),
            ],
            unit=SECONDS,
            steps=above(2),
        ),
        timeseries_panel(
            "Database failures",
            "Failed database operations and connection-pool timeouts in the last 5 minutes, "
            "per deployment (blipee:db_client_failures:increase5m).",
            [Query(recorded("blipee:db_client_failures:increase5m"), "{{namespace}}/{{job}}")],
            unit=COUNT,
            steps=above(1),
        ),
    )
    board.alerts_row(
        "The blipee bundle's system alerts that are pending or firing now: API latency and database failures.",
    )
    return board.build()


def build_agents() -> dict[str, Any]:
    """The blipee-agent-performance dashboard as JSON data."""
    board = _board(
        AGENTS,
        "agent performance",
        "blipee's AI agents: executions, errors and duration per agent.",
        [*standard_variables(EXECUTIONS), label_variable("agent", "Agent", EXECUTIONS)],
        _alerts("BlipeeHighAgentFailureRate"),
    )
    succeeded = 'status="success"'
    board.row("Comparison").add(
        table_panel(
            "Agent comparison",
            "Per agent, in the selected time range: executions, the share that succeeded, "
            "errors, and the current 95th percentile execution duration.",
            ["agent"],
            [
                Column("Executions", Query(increase(EXECUTIONS, AGENT, by="agent")), COUNT),
                Column(
                    "Success rate",
                    Query(
                        f"({increase(EXECUTIONS, succeeded, AGENT, by='agent')} "
                        f"or 0 * {increase(EXECUTIONS, AGENT, by='agent')}) / "
                        f"{increase(EXECUTIONS, AGENT, by='agent')}"
                    ),
                    PERCENT_UNIT,
                    below(0.99),
                ),
                Column("Errors", Query(increase("agent_errors_total", AGENT, by="agent")), COUNT),
                Column(
                    "p95 duration",
                    Query(f"max by (agent) ({recorded('blipee:agent_execution_duration_seconds:p95_rate5m', AGENT)})"),
                    SECONDS,
                ),
            ],
        ),
    )
    board.row("Executions and errors").add(
        timeseries_panel(
            "Executions by agent and status",
            "Agent executions per second, per agent and status (blipee:agent_executions:rate5m).",
            [Query(recorded("blipee:agent_executions:rate5m", AGENT), "{{agent}} {{status}}")],
            unit=PER_SECOND,
            stacked=True,
        ),
        timeseries_panel(
            "Success rate by agent",
            "Share of an agent's executions that succeeded over 5 minutes "
            "(blipee:agent_execution_success:ratio_rate5m). The seed's objective is 99 %.",
            [Query(recorded("blipee:agent_execution_success:ratio_rate5m", AGENT), "{{agent}}")],
            unit=PERCENT_UNIT,
            steps=below(0.99),
            maximum=1,
        ),
        timeseries_panel(
            "Errors in 5 minutes by agent",
            "Errors per agent in the last 5 minutes (blipee:agent_errors:increase5m). "
            "BlipeeHighAgentFailureRate fires above 10.",
            [Query(recorded("blipee:agent_errors:increase5m", AGENT), "{{agent}}")],
            unit=COUNT,
            steps=above(10),
        ),
        timeseries_panel(
            "p95 execution duration by agent",
            "95th percentile execution duration over 5 minutes, per agent "
            "(blipee:agent_execution_duration_seconds:p95_rate5m).",
            [Query(recorded("blipee:agent_execution_duration_seconds:p95_rate5m", AGENT), "{{agent}}")],
            unit=SECONDS,
        ),
    )
    board.alerts_row("The blipee bundle's agent alert, pending or firing now.")
    return board.build()


def build_models() -> dict[str, Any]:
    """The blipee-ml-models dashboard as JSON data."""
    board = _board(
        MODELS,
        "ML models",
        "blipee's ML models: predictions, accuracy and prediction latency per model.",
        [*standard_variables(PREDICTIONS), label_variable("model", "Model", PREDICTIONS)],
        _alerts("BlipeeLowModelAccuracy", "BlipeeMLPredictionLatencySLOBreach"),
    )
    accuracy = "blipee:ml_model_accuracy:avg10m"
    latency = "blipee:ml_prediction_latency_seconds:p95_rate5m"
    board.row("Comparison").add(
        table_panel(
            "Model comparison",
            "Per model: predictions in the selected time range, and the current accuracy "
            "(10 minute average) and 95th percentile prediction latency.",
            ["model"],
            [
                Column("Predictions", Query(increase(PREDICTIONS, MODEL, by="model")), COUNT),
                Column("Accuracy", Query(f"max by (model) ({recorded(accuracy, MODEL)})"), PERCENT_UNIT, below(0.8)),
                Column("p95 latency", Query(f"max by (model) ({recorded(latency, MODEL)})"), SECONDS, above(0.2)),
            ],
        ),
    )
    board.row("Models").add(
        timeseries_panel(
            "Predictions by model",
            "Predictions per second, per model (blipee:ml_predictions:rate5m).",
            [Query(recorded("blipee:ml_predictions:rate5m", MODEL), "{{model}}")],
            unit=PER_SECOND,
            stacked=True,
        ),
        timeseries_panel(
            "Accuracy by model",
            "Accuracy each model reports, 10 minute average (blipee:ml_model_accuracy:avg10m). "
            "BlipeeLowModelAccuracy fires below 80 %.",
            [Query(recorded(accuracy, MODEL), "{{model}}")],
            unit=PERCENT_UNIT,
            steps=below(0.8),
            maximum=1,
        ),
        timeseries_panel(
            "p95 prediction latency by model",
            "95th percentile prediction latency over 5 minutes, per model "
            "(blipee:ml_prediction_latency_seconds:p95_rate5m). BlipeeMLPredictionLatencySLOBreach "
            "fires above 200 ms, the seed's objective.",
            [Query(recorded(latency, MODEL), "{{model}}")],
            unit=SECONDS,
            steps=above(0.2),
            width=24,
        ),
    )
    board.alerts_row("The blipee bundle's ML alerts that are pending or firing now: accuracy and latency.")
    return board.build()


def build_business() -> dict[str, Any]:
    """The blipee-business-metrics dashboard as JSON data."""
    board = _board(
        BUSINESS,
        "business metrics",
        "blipee's business KPIs: active organizations, messages processed and emissions tracked.",
        standard_variables("user_messages_total"),
        _alerts("BlipeeNetworkGrowthStalled"),
    )
    emissions = "blipee:emissions_tracked_kg:sum"
    board.row("KPIs").add(
        count_stat_panel(
            "Active organizations",
            "Organizations active now (organizations_active; the seed's daily active organizations).",
            f"sum({recorded('blipee:organizations_active:max')})",
            width=6,
        ),
        count_stat_panel(
            "Messages per hour",
            "User messages processed in the last hour, all intents (blipee:user_messages:increase1h).",
            f"sum({recorded('blipee:user_messages:increase1h')})",
            width=6,
        ),
        count_stat_panel(
            "Messages in the time range",
            "User messages processed in the selected time range.",
            increase("user_messages_total"),
            width=6,
        ),
        stat_panel(
            "Emissions tracked",
            "Emissions tracked so far, all organizations and scopes, in tonnes of CO2e (emissions_tracked_kg / 1000).",
            [Query(f"sum({recorded(emissions)}) / 1000")],
            unit="masst",
            steps=NEUTRAL,
            width=6,
        ),
    )
    board.row("Activity").add(
        timeseries_panel(
            "Messages per hour by intent",
            "User messages processed in the last hour, per intent (blipee:user_messages:increase1h).",
            [Query(recorded("blipee:user_messages:increase1h"), "{{intent}}")],
            unit=COUNT,
            stacked=True,
        ),
        timeseries_panel(
            "Active organizations",
            "Organizations active over time (blipee:organizations_active:max).",
            [Query(recorded("blipee:organizations_active:max"), "{{namespace}}/{{job}}")],
            unit=COUNT,
        ),
        timeseries_panel(
            "Emissions tracked by scope",
            "Emissions tracked so far, in tonnes of CO2e, per scope (scope1, scope2, scope3).",
            [Query(f"{recorded(emissions)} / 1000", "{{scope}}")],
            unit="masst",
            stacked=True,
        ),
        bargauge_panel(
            "Busiest organizations",
            "The ten organizations that sent the most messages in the selected time range.",
            [
                Query(
                    f"topk(10, {increase('user_messages_total', by='organization')})",
                    "{{organization}}",
                    instant=True,
                )
            ],
            unit=COUNT,
            steps=NEUTRAL,
        ),
    )
    board.alerts_row("The blipee bundle's business alert, pending or firing now: stalled network growth.")
    return board.build()


def build_network() -> dict[str, Any]:
    """The blipee-network-intelligence dashboard as JSON data."""
    board = _board(
        NETWORK,
        "network intelligence",
        "blipee's network of organizations: connections, their growth and benchmarks performed.",
        standard_variables("network_connections_active"),
        _alerts("BlipeeNetworkGrowthStalled"),
    )
    growth = "blipee:network_connections:growth1d"
    board.row("Network").add(
        count_stat_panel(
            "Active connections",
            "Active network connections now, all organizations (blipee:network_connections:sum).",
            f"sum({recorded('blipee:network_connections:sum')})",
            width=6,
        ),
        count_stat_panel(
            "Growth in 24 hours",
            "Active connections now minus a day ago (blipee:network_connections:growth1d). "
            "BlipeeNetworkGrowthStalled fires below 100.",
            f"sum({recorded(growth)})",
            steps=below(100),
            width=6,
        ),
        count_stat_panel(
            "Benchmarks in the time range",
            "Benchmarks performed in the selected time range, all organizations.",
            increase("benchmarks_performed_total"),
            width=6,
        ),
        count_stat_panel(
            "Organizations benchmarking",
            "Organizations that performed a benchmark in the last 24 hours (the seed's benchmark participation).",
            f"count({recorded('blipee:benchmarks:increase1d')} > 0) or vector(0)",
            width=6,
        ),
    )
    board.row("Connections and benchmarks").add(
        timeseries_panel(
            "Active connections",
            "Active network connections, all organizations (blipee:network_connections:sum).",
            [Query(recorded("blipee:network_connections:sum"), "{{namespace}}/{{job}}")],
            unit=COUNT,
        ),
        timeseries_panel(
            "Growth over 24 hours",
            "Active connections minus a day earlier (blipee:network_connections:growth1d); the "
            "line is BlipeeNetworkGrowthStalled's threshold of 100.",
            [Query(recorded(growth), "{{namespace}}/{{job}}")],
            unit=COUNT,
            steps=below(100),
            minimum=None,
        ),
        timeseries_panel(
            "Connections by organization",
            "Active network connections of the ten best connected organizations.",
            [
                Query(
                    f"topk(10, sum by (organization) (network_connections_active{selector()}))",
                    "{{organization}}",
                )
            ],
            unit=COUNT,
        ),
        bargauge_panel(
            "Benchmarks in 24 hours by organization",
            "Benchmarks performed in the last 24 hours by the ten most active organizations "
            "(blipee:benchmarks:increase1d).",
            [
                Query(
                    f"topk(10, sum by (organization) ({recorded('blipee:benchmarks:increase1d')}))",
                    "{{organization}}",
                    instant=True,
                )
            ],
            unit=COUNT,
            steps=NEUTRAL,
        ),
    )
    board.alerts_row("The blipee bundle's network alert, pending or firing now: stalled growth.")
    return board.build()
