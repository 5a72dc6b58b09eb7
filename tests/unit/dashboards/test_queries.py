"""Every dashboard query is valid PromQL over metrics Vigil knows, with Grafana's intervals."""

from __future__ import annotations

from typing import Any

import promql_parser
import pytest

from tests.unit.dashboards.inventory import (
    COLLECTOR_OWN,
    OPERATOR_OWN,
    RANGE,
    RATE_INTERVAL,
    Expr,
    bundle_records,
    committed,
    expressions,
    inventory,
    metric_names,
    panels,
    slo_records,
    unknown,
)
from vigil.models.dashboards import DASHBOARD_BUNDLES

ALL = [(name, e) for name, d in sorted(committed().items()) for e in expressions(d)]


def _id(case: tuple[str, Expr]) -> str:
    return f"{case[0]}: {case[1].where}"


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_every_query_parses(case: tuple[str, Expr]) -> None:
    _, expr = case
    promql_parser.parse(expr.substituted())


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_every_metric_is_one_vigil_knows(case: tuple[str, Expr]) -> None:
    _, expr = case
    assert unknown(expr.parse()) == []


def _ranges(node: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def visit(n: Any) -> None:
        if isinstance(n, promql_parser.Call):
            for arg in n.args:
                if isinstance(arg, promql_parser.MatrixSelector):
                    found.append((n.func.name, arg.range))

    promql_parser.walk(node, visit)
    return found


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_rates_use_rate_interval_and_counts_the_time_range(case: tuple[str, Expr]) -> None:
    _, expr = case
    for func, window in _ranges(expr.parse()):
        if func in ("rate", "irate"):
            assert window == RATE_INTERVAL, f"{func} over {window}: use $__rate_interval"
        elif func == "increase":
            assert window in (RATE_INTERVAL, RANGE), f"increase over {window}"


def test_no_query_hard_codes_a_datasource_or_an_interval() -> None:
    for name, e in ALL:
        assert "[5m]" not in e.text, (name, e.where)
        assert "uid" not in e.text, (name, e.where)


@pytest.mark.parametrize("name", sorted(committed()))
def test_recording_rules_come_from_the_dashboards_own_bundle(name: str) -> None:
    bundle = DASHBOARD_BUNDLES[name]
    own = bundle_records().get(bundle, frozenset()) if bundle else frozenset()
    others = frozenset().union(*bundle_records().values()) - own
    used = {m for e in expressions(committed()[name]) for m in metric_names(e.parse())}
    assert used & others == set()
    if bundle is not None:
        assert used & own, f"{name} reads no recording rule of bundle {bundle}"


def test_the_slo_dashboard_reads_the_slo_rules_render_alerts_writes() -> None:
    used = {m for e in expressions(committed()["slo-overview"]) for m in metric_names(e.parse())}
    assert used - {"ALERTS"} <= slo_records()
    assert used & slo_records()


def test_collector_and_operator_dashboards_read_their_own_metrics() -> None:
    collector = {m for e in expressions(committed()["collector-health"]) for m in metric_names(e.parse())}
    operator = {m for e in expressions(committed()["vigil-operator"]) for m in metric_names(e.parse())}
    assert collector & COLLECTOR_OWN >= {
        "otelcol_exporter_queue_size",
        "otelcol_exporter_queue_capacity",
        "otelcol_process_memory_rss_bytes",
        "otelcol_process_cpu_seconds_total",
        "otelcol_processor_memory_limiter_accepted_spans_total",
    }
    assert operator & OPERATOR_OWN >= {
        "vigil_reconcile_total",
        "vigil_reconcile_duration_seconds_bucket",
        "vigil_watch_events_total",
        "vigil_api_requests_total",
    }


def test_the_operator_exports_every_vigil_metric_the_dashboard_reads() -> None:
    metrics = pytest.importorskip("vigil.metrics")
    exported: set[str] = set()
    for collector in vars(metrics).values():
        kind = getattr(collector, "_type", None)
        name = getattr(collector, "_name", None)
        if name is None or kind is None:
            continue
        exported |= {
            "counter": {f"{name}_total"},
            "histogram": {f"{name}_bucket", f"{name}_sum", f"{name}_count"},
        }.get(kind, {name})
    used = {
        m for e in expressions(committed()["vigil-operator"]) for m in metric_names(e.parse()) if m.startswith("vigil_")
    }
    assert used <= exported


def test_the_inventory_check_can_fail() -> None:
    assert unknown(promql_parser.parse("rate(aureus_tasks_started_total[5m])")) == ["aureus_tasks_started_total"]
    assert unknown(promql_parser.parse('{__name__=~"nothing_like_this.+"}')) != []
    assert unknown(promql_parser.parse('{__name__=~"vigil:slo_errors:ratio_rate.+"}')) == []
    assert "aureus:task_failure:ratio_rate5m" in inventory()
    assert "aureus_tasks_completed_total" in inventory()
    assert "otelcol_exporter_sent_spans_total" in inventory()


def test_queries_over_the_whole_time_range_are_instant() -> None:
    found = 0
    for dashboard in committed().values():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if "$__range" in target["expr"]:
                    found += 1
                    assert target["instant"] is True, panel["title"]
    assert found > 10
