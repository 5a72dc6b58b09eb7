"""What the dashboard tests read: the committed dashboards, their queries, and every metric
name Vigil knows of (the inventory a query may use)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import promql_parser
import yaml

from tests.helpers import EXAMPLES, ROOT

DASHBOARDS = ROOT / "dashboards"
RULES = ROOT / "rules"

# Grafana's interval variables, replaced by distinct durations before parsing so that a test
# can tell which one a range used.
RATE_INTERVAL = timedelta(minutes=4, seconds=17)
RANGE = timedelta(hours=3, minutes=7)
INTERVAL = timedelta(minutes=1, seconds=3)
SUBSTITUTIONS = {
    "$__range_s": "11220",
    "${__range_s}": "11220",
    "$__rate_interval": "4m17s",
    "${__rate_interval}": "4m17s",
    "$__range": "3h7m",
    "${__range}": "3h7m",
    "$__interval": "1m3s",
    "${__interval}": "1m3s",
}

# Series Prometheus itself writes for every target and every alerting rule.
PROMETHEUS_OWN = frozenset({"up", "ALERTS"})

SIGNALS = ("spans", "metric_points", "log_records")
# The collector's own metrics as Vigil configures its telemetry (without_units: false,
# without_type_suffix: false), as a real otelcol v0.159 exposes them.
COLLECTOR_OWN = frozenset(
    {
        *(
            f"otelcol_{m}_{s}_total"
            for m in (
                "exporter_sent",
                "exporter_send_failed",
                "exporter_enqueue_failed",
                "receiver_accepted",
                "receiver_refused",
                "processor_memory_limiter_accepted",
                "processor_memory_limiter_refused",
            )
            for s in SIGNALS
        ),
        "otelcol_exporter_queue_size",
        "otelcol_exporter_queue_capacity",
        "otelcol_process_cpu_seconds_total",
        "otelcol_process_memory_rss_bytes",
        "otelcol_process_runtime_heap_alloc_bytes",
        "otelcol_process_uptime_seconds_total",
    }
)

# The http_check receiver's metrics as Vigil's health checks write them: the names a real
# collector sends through remote write and a prometheus sink (tests/tools/test_health_checks.py).
HTTPCHECK = frozenset({"httpcheck_status", "httpcheck_duration_milliseconds", "httpcheck_error"})

# The operator's own metrics (vigil/metrics.py), histogram series spelled out.
OPERATOR_OWN = frozenset(
    {
        "vigil_reconcile_total",
        "vigil_reconcile_duration_seconds_bucket",
        "vigil_reconcile_duration_seconds_sum",
        "vigil_reconcile_duration_seconds_count",
        "vigil_watch_events_total",
        "vigil_api_requests_total",
        "vigil_managed_objects",
    }
)


@cache
def committed() -> dict[str, dict[str, Any]]:
    """Every dashboards/<name>.json by name."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that show something (rows left out), in order."""
    return [p for p in dashboard["panels"] if p["type"] != "row"]


@dataclass(frozen=True)
class Expr:
    """One PromQL expression of a dashboard and where it is."""

    where: str
    text: str

    def substituted(self) -> str:
        out = self.text
        for var, value in SUBSTITUTIONS.items():
            out = out.replace(var, value)
        return out

    def parse(self) -> promql_parser.Expr:
        return promql_parser.parse(self.substituted())


_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


def expressions(dashboard: dict[str, Any]) -> list[Expr]:
    """Every query: panel targets, variable queries (their selector) and annotations."""
    out = [
        Expr(f"panel {p['title']!r} target {t['refId']}", t["expr"])
        for p in panels(dashboard)
        for t in p.get("targets", [])
    ]
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            match = _LABEL_VALUES.match(v["query"])
            assert match, f"variable {v['name']}: not label_values(selector, label)"
            out.append(Expr(f"variable {v['name']}", match["selector"]))
    out += [
        Expr(f"annotation {a['name']!r}", a["expr"])
        for a in dashboard.get("annotations", {}).get("list", [])
        if "expr" in a
    ]
    return out


@dataclass(frozen=True)
class Selector:
    """A metric a query reads: its name, or the regex its __name__ must match."""

    name: str | None
    name_regex: str | None


def selectors(expr: promql_parser.Expr) -> list[Selector]:
    """Every vector selector of ``expr``."""
    found: list[Selector] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            regex = None
            name = node.name
            for m in node.matchers.matchers:
                if m.name == "__name__":
                    if "Re" in str(m.op):
                        regex = m.value
                    else:
                        name = m.value
            found.append(Selector(name, regex))

    promql_parser.walk(expr, visit)
    return found


def metric_names(expr: promql_parser.Expr) -> set[str]:
    """Names of the metrics ``expr`` reads by exact name."""
    return {s.name for s in selectors(expr) if s.name}


@cache
def rule_files() -> dict[str, dict[str, Any]]:
    """Each bundle's rule file (rules/<bundle>.yaml) by bundle name."""
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(RULES.glob("*.yaml")) if p.name != "bundles.yaml"}


@cache
def bundle_records() -> dict[str, frozenset[str]]:
    """The recording rules of each bundle."""
    return {
        b: frozenset(r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r)
        for b, doc in rule_files().items()
    }


@cache
def bundle_reads() -> frozenset[str]:
    """Every metric a bundle's rule expression reads."""
    return frozenset(
        name
        for doc in rule_files().values()
        for g in doc["groups"]
        for r in g["rules"]
        for name in metric_names(promql_parser.parse(r["expr"]))
    )


@cache
def slo_records() -> frozenset[str]:
    """Recording rules render/alerts.py writes for SLO AlertPolicies (several periods)."""
    from vigil.models.policy import AlertPolicy  # noqa: PLC0415
    from vigil.render.alerts import render_rule_groups  # noqa: PLC0415

    doc = next(
        d
        for d in yaml.safe_load_all((EXAMPLES / "40-alert-policies.yaml").read_text())
        if d and "slo" in d.get("spec", {})
    )
    names: set[str] = set()
    for window in ("30d", "28d", "7d", "1d", "90d"):
        spec = {**doc["spec"], "slo": {**doc["spec"]["slo"], "window": window}}
        policy = AlertPolicy.model_validate(
            {**doc, "metadata": {**doc["metadata"], "namespace": "default"}, "spec": spec}
        )
        names |= {r["record"] for g in render_rule_groups(policy) for r in g["rules"] if "record" in r}
    return frozenset(names)


@cache
def inventory() -> frozenset[str]:
    """Every metric name Vigil knows of."""
    return frozenset(
        PROMETHEUS_OWN
        | COLLECTOR_OWN
        | HTTPCHECK
        | OPERATOR_OWN
        | bundle_reads()
        | frozenset().union(*bundle_records().values())
        | slo_records()
    )


def unknown(expr: promql_parser.Expr, known: frozenset[str] | None = None) -> list[str]:
    """The selectors of ``expr`` that match no metric of the inventory."""
    known = inventory() if known is None else known
    out = []
    for s in selectors(expr):
        if s.name is not None and s.name not in known:
            out.append(s.name)
        if s.name is None and s.name_regex is not None:
            pattern = re.compile(s.name_regex)
            if not any(pattern.fullmatch(n) for n in known):
                out.append(f"__name__=~{s.name_regex!r}")
    return out
