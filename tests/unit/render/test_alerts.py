"""AlertPolicy renderers: PrometheusRule, AlertmanagerConfig, alertmanager.yml, burn-rate math."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import promql_parser
import pytest
import yaml

from tests.helpers import policy
from tests.unit.models.test_policy import RATIO, SLO, WEBHOOK
from vigil.cli import main
from vigil.models.common import ObjectMeta
from vigil.models.policy import AlertPolicy, seconds
from vigil.render.alerts import (
    NO_RECEIVER,
    WORKBOOK,
    burn_rate_alerts,
    duration,
    error_budget,
    inhibitions,
    referenced_secrets,
    render_alertmanager_config,
    render_alertmanager_yaml,
    render_policy,
    render_prometheus_rule,
    render_rule_groups,
    slo_windows,
)
from vigil.render.context import RenderContext

SECRET = {"name": "alerts", "key": "token"}
CTX = RenderContext()


def _policy(name: str = "p", **spec: Any) -> AlertPolicy:
    return AlertPolicy.model_validate(policy(name, **spec))


def _rules(**spec: Any) -> list[dict[str, Any]]:
    groups = render_rule_groups(_policy(**spec))
    assert len(groups) == 1
    return list(groups[0]["rules"])


def _alerts(**spec: Any) -> list[dict[str, Any]]:
    return [r for r in _rules(**spec) if "alert" in r]


# --- PrometheusRule ----------------------------------------------------------------------------


def test_prometheus_rule_object() -> None:
    rule = render_prometheus_rule(_policy("job-down", expr="up == 0"), RenderContext(uid="u-1"))
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["kind"] == "PrometheusRule"
    assert rule["metadata"]["name"] == "job-down-policy"
    assert rule["metadata"]["namespace"] == "team-a"
    assert rule["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "vigil",
        "app.kubernetes.io/part-of": "vigil",
        "app.kubernetes.io/instance": "job-down",
        "app.kubernetes.io/component": "alerting",
        "vigil.dev/owner-kind": "AlertPolicy",
    }
    assert rule["metadata"]["ownerReferences"][0]["kind"] == "AlertPolicy"
    assert rule["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert rule["spec"]["groups"][0]["name"] == "vigil.team-a.job-down"


def test_prometheus_labels_default_from_context_and_override_per_policy() -> None:
    ctx = RenderContext(prometheus_labels={"release": "kube-prometheus-stack"})
    default = render_prometheus_rule(_policy(expr="up == 0"), ctx)["metadata"]["labels"]
    assert default["release"] == "kube-prometheus-stack"
    own = render_prometheus_rule(_policy(expr="up == 0", prometheusLabels={"prometheus": "team"}), ctx)
    assert own["metadata"]["labels"]["prometheus"] == "team"
    assert "release" not in own["metadata"]["labels"]
    config = render_alertmanager_config(_policy(expr="up == 0", receivers=[WEBHOOK]), ctx)
    assert config is not None
    assert config["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_threshold_alert() -> None:
    (alert,) = _alerts(
        threshold={"expr": "node_load1", "comparison": ">=", "value": 4.0},
        severity="info",
        **{"for": "5m"},
        keepFiringFor="1m",
        labels={"team": "infra"},
    )
    assert alert == {
        "alert": "P",
        "expr": "(node_load1) >= 4",
        "for": "5m",
        "keep_firing_for": "1m",
        "labels": {
            "team": "infra",
            "severity": "info",
            "namespace": "team-a",
            "vigil_policy": "team-a/p",
        },
        "annotations": {"summary": "P: {{ $value | humanize }} >= 4"},
    }


def test_threshold_escalation_adds_a_stricter_alert_with_the_same_name() -> None:
    warning, critical = _alerts(
        threshold={"expr": "x", "comparison": "<", "value": 0.9},
        escalation={"value": 0.5},
        **{"for": "10m"},
    )
    assert (warning["expr"], warning["labels"]["severity"], warning["for"]) == (
        "(x) < 0.9",
        "warning",
        "10m",
    )
    assert (critical["expr"], critical["labels"]["severity"], critical["for"]) == (
        "(x) < 0.5",
        "critical",
        "10m",
    )
    assert critical["alert"] == warning["alert"]


def test_escalation_has_its_own_for() -> None:
    _, critical = _alerts(ratio=RATIO, escalation={"value": 0.2, "for": "1m"}, **{"for": "5m"})
    assert critical["for"] == "1m"


def test_ratio_of_counter_selectors() -> None:
    record, alert = _rules(ratio={**RATIO, "by": ["job", "route"], "window": "10m"})
    sums = 'sum by (job, route) (rate(http_requests_total{code=~"5.."}[10m]))'
    total = "sum by (job, route) (rate(http_requests_total[10m]))"
    assert record == {
        "record": "vigil:policy_errors:ratio_rate10m",
        "expr": f"({sums} or 0 * {total}) / ({total} > 0)",
        "labels": {"vigil_policy": "team-a/p"},
    }
    assert alert["expr"] == 'vigil:policy_errors:ratio_rate10m{vigil_policy="team-a/p"} > 0.05'
    assert "for" not in alert


def test_ratio_without_by_sums_everything() -> None:
    record = _rules(ratio=RATIO)[0]
    assert record["expr"].startswith('(sum (rate(http_requests_total{code=~"5.."}[5m])) or 0 * ')


def test_ratio_queries_are_used_as_given() -> None:
    record, _ = _rules(
        ratio={
            "errors": "sum(rate(e_total[{{window}}]))",
            "total": "sum(rate(t_total[{{window}}]))",
            "window": "2m",
            "comparison": ">",
            "value": 0.1,
        }
    )
    assert record["expr"] == "(sum(rate(e_total[2m]))) / (sum(rate(t_total[2m])))"


def test_ratio_escalation() -> None:
    alerts = _alerts(ratio=RATIO, escalation={"value": 0.25})
    assert [(a["labels"]["severity"], a["expr"].rsplit(" ", 1)[-1]) for a in alerts] == [
        ("warning", "0.05"),
        ("critical", "0.25"),
    ]


def test_expr_alert_is_the_expression() -> None:
    (alert,) = _alerts(expr='up{job="api"} == 0', severity="critical", alertName="ApiDown")
    assert alert["expr"] == 'up{job="api"} == 0'
    assert alert["alert"] == "ApiDown"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"] == {"summary": "ApiDown is firing"}


def test_annotations_given_replace_the_default_summary() -> None:
    (alert,) = _alerts(
        expr="up == 0",
        annotations={
            "summary": "{{ $labels.job }} down",
            "description": "d",
            "runbookUrl": "https://r/x",
        },
    )
    assert alert["annotations"] == {
        "summary": "{{ $labels.job }} down",
        "description": "d",
        "runbook_url": "https://r/x",
    }


def test_vigil_labels_win_over_nothing_and_user_labels_are_kept() -> None:
    (alert,) = _alerts(expr="up == 0", labels={"team": "a", "tier": "1"})
    assert alert["labels"] == {
        "team": "a",
        "tier": "1",
        "severity": "warning",
        "namespace": "team-a",
        "vigil_policy": "team-a/p",
    }


# --- SLO: recording rules and the burn-rate table ----------------------------------------------


def test_workbook_table_for_30_days() -> None:
    table = [(a.role, a.factor, a.long_window, a.short_window) for a in burn_rate_alerts("30d")]
    assert table == [
        ("page", Decimal("14.4"), "1h", "5m"),
        ("page", Decimal("6"), "6h", "30m"),
        ("ticket", Decimal("3"), "1d", "2h"),
        ("ticket", Decimal("1"), "3d", "6h"),
    ]


def test_each_alert_fires_after_the_workbooks_share_of_the_budget() -> None:
    # SRE workbook, table 5-8: 2 % of the budget in 1h, 5 % in 6h, 10 % in 1d and in 3d.
    spent = [a.budget_consumed for a in burn_rate_alerts("30d")]
    assert spent == [Decimal("0.02"), Decimal("0.05"), Decimal("0.1"), Decimal("0.1")]


def test_short_window_is_a_twelfth_of_the_long_one() -> None:
    for role, _, long_s, short_s in WORKBOOK:
        assert long_s == 12 * short_s, role


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("28d", [("56m", "5m"), ("5h36m", "28m"), ("22h24m", "1h52m"), ("2d19h12m", "5h36m")]),
        ("7d", [("14m", "4m"), ("1h24m", "7m"), ("5h36m", "28m"), ("16h48m", "1h24m")]),
        ("90d", [("3h", "15m"), ("18h", "1h30m"), ("3d", "6h"), ("9d", "18h")]),
        ("1d", [("4m", "4m"), ("12m", "4m"), ("48m", "4m"), ("2h24m", "12m")]),
    ],
)
def test_windows_scale_with_the_slo_period(window: str, expected: list[tuple[str, str]]) -> None:
    alerts = burn_rate_alerts(window)
    assert [(a.long_window, a.short_window) for a in alerts] == expected
    assert [a.factor for a in alerts] == [Decimal("14.4"), Decimal("6"), Decimal("3"), Decimal("1")]


@pytest.mark.parametrize(
    ("window", "scrape", "expected"),
    [
        # Scaled windows below 4 scrape intervals are raised to it; 1m stays the least.
        ("1d", "15s", [("2m", "1m"), ("12m", "1m"), ("48m", "4m"), ("2h24m", "12m")]),
        ("1d", "5s", [("2m", "1m"), ("12m", "1m"), ("48m", "4m"), ("2h24m", "12m")]),
        ("1d", "2m", [("8m", "8m"), ("12m", "8m"), ("48m", "8m"), ("2h24m", "12m")]),
        ("7d", "20s", [("14m", "1m20s"), ("1h24m", "7m"), ("5h36m", "28m"), ("16h48m", "1h24m")]),
        ("30d", "30s", [("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]),
        ("30d", "1m15s", [("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]),
        ("30d", "5m", [("1h", "20m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]),
    ],
)
def test_no_window_is_shorter_than_four_scrapes(window: str, scrape: str, expected: list[tuple[str, str]]) -> None:
    alerts = burn_rate_alerts(window, scrape)
    assert [(a.long_window, a.short_window) for a in alerts] == expected


@pytest.mark.parametrize("window", ["1d", "2d", "7d", "14d", "28d", "30d", "90d"])
@pytest.mark.parametrize("scrape", ["10s", "30s", "1m", "2m", "5m"])
def test_every_window_holds_four_scrapes(window: str, scrape: str) -> None:
    for a in burn_rate_alerts(window, scrape):
        for w in (a.long_window, a.short_window):
            assert seconds(w) >= max(60, 4 * seconds(scrape)), (window, scrape, w)


def test_the_policy_scrape_interval_sets_the_windows() -> None:
    model = _policy(slo={**SLO, "window": "1d", "scrapeInterval": "30s"})
    assert slo_windows(model) == ["2m", "4m", "12m", "48m", "2h24m"]
    default = _policy(slo={**SLO, "window": "1d"})
    assert slo_windows(default) == ["4m", "12m", "48m", "2h24m"]


@pytest.mark.parametrize(
    ("objective", "budget"),
    [(99.9, "0.001"), (99.95, "0.0005"), (99, "0.01"), (95.5, "0.045"), (99.999, "0.00001")],
)
def test_error_budget_is_exact(objective: float, budget: str) -> None:
    assert error_budget(objective) == Decimal(budget)


@pytest.mark.parametrize(
    ("total", "text"),
    [(300, "5m"), (5400, "1h30m"), (259200, "3d"), (90061, "1d1h1m1s"), (0, "0s")],
)
def test_duration(total: int, text: str) -> None:
    assert duration(total) == text


def test_slo_records_every_window_and_the_period() -> None:
    model = _policy(slo=SLO)
    assert slo_windows(model) == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    rules = _rules(slo=SLO)
    records = {r["record"]: r for r in rules if "record" in r}
    assert list(records) == [
        "vigil:slo_errors:ratio_rate5m",
        "vigil:slo_errors:ratio_rate30m",
        "vigil:slo_errors:ratio_rate1h",
        "vigil:slo_errors:ratio_rate2h",
        "vigil:slo_errors:ratio_rate6h",
        "vigil:slo_errors:ratio_rate1d",
        "vigil:slo_errors:ratio_rate3d",
        "vigil:slo_errors:ratio_rate30d",
        "vigil:slo_error_budget_remaining:ratio",
    ]
    total = "(sum(rate(http_requests_total[1h])))"
    assert records["vigil:slo_errors:ratio_rate1h"]["expr"] == (
        f'((sum(rate(http_requests_total{{code=~"5.."}}[1h]))) or 0 * {total}) / ({total} > 0)'
    )
    assert all(r["labels"] == {"vigil_policy": "team-a/p"} for r in records.values())
    selector = 'vigil:slo_errors:ratio_rate5m{vigil_policy="team-a/p"}'
    assert records["vigil:slo_errors:ratio_rate30d"]["expr"] == (
        f"sum_over_time({selector}[30d]) / count_over_time({selector}[30d])"
    )
    assert records["vigil:slo_error_budget_remaining:ratio"]["expr"] == (
        '1 - vigil:slo_errors:ratio_rate30d{vigil_policy="team-a/p"} / 0.001'
    )


def test_slo_good_query_becomes_an_error_ratio() -> None:
    good = {
        "objective": 99.5,
        "goodQuery": "sum(rate(ok_total[{{window}}]))",
        "totalQuery": "sum(rate(all_total[{{window}}]))",
    }
    first = _rules(slo=good)[0]
    total = "(sum(rate(all_total[5m])))"
    assert first["expr"] == f"1 - ((sum(rate(ok_total[5m]))) or 0 * {total}) / ({total} > 0)"


def test_slo_error_ratio_query_is_used_as_given() -> None:
    raw = {"objective": 99, "errorRatioQuery": "1 - avg(avg_over_time(probe_success[{{.window}}]))"}
    records = {r["record"]: r["expr"] for r in _rules(slo=raw) if "record" in r}
    assert records["vigil:slo_errors:ratio_rate6h"] == "1 - avg(avg_over_time(probe_success[6h]))"
    assert "vigil:slo_error_budget_remaining:ratio" in records


def test_slo_sloth_placeholder_renders_like_vigils() -> None:
    sloth = {
        **SLO,
        "errorQuery": SLO["errorQuery"].replace("{{window}}", "{{.window}}"),
        "totalQuery": SLO["totalQuery"].replace("{{window}}", "{{ .window }}"),
    }
    assert _rules(slo=sloth) == _rules(slo=SLO)


def test_slo_page_and_ticket_alerts() -> None:
    page, ticket = _alerts(slo=SLO)
    sel = '{vigil_policy="team-a/p"}'
    assert page["alert"] == ticket["alert"] == "P"
    assert page["labels"]["severity"] == "critical"
    assert ticket["labels"]["severity"] == "warning"
    assert page["expr"] == (
        f"(vigil:slo_errors:ratio_rate1h{sel} > (14.4 * 0.001) and "
        f"vigil:slo_errors:ratio_rate5m{sel} > (14.4 * 0.001)) or "
        f"(vigil:slo_errors:ratio_rate6h{sel} > (6 * 0.001) and "
        f"vigil:slo_errors:ratio_rate30m{sel} > (6 * 0.001))"
    )
    assert ticket["expr"] == (
        f"(vigil:slo_errors:ratio_rate1d{sel} > (3 * 0.001) and "
        f"vigil:slo_errors:ratio_rate2h{sel} > (3 * 0.001)) or "
        f"(vigil:slo_errors:ratio_rate3d{sel} > (1 * 0.001) and "
        f"vigil:slo_errors:ratio_rate6h{sel} > (1 * 0.001))"
    )
    assert "burning fast" in page["annotations"]["summary"]
    assert "burning steadily" in ticket["annotations"]["summary"]


def test_slo_severities_are_configurable() -> None:
    page, ticket = _alerts(slo={**SLO, "pageSeverity": "warning", "ticketSeverity": "info"})
    assert (page["labels"]["severity"], ticket["labels"]["severity"]) == ("warning", "info")


@pytest.mark.parametrize(("disabled", "kept"), [("pageAlert", "warning"), ("ticketAlert", "critical")])
def test_a_disabled_slo_alert_is_not_generated(disabled: str, kept: str) -> None:
    rules = _rules(slo={**SLO, disabled: {"disabled": True}})
    alerts = [r for r in rules if "alert" in r]
    assert [a["labels"]["severity"] for a in alerts] == [kept]
    assert len([r for r in rules if "record" in r]) == 9


def test_an_slo_with_both_alerts_disabled_only_records() -> None:
    rules = _rules(slo={**SLO, "pageAlert": {"disabled": True}, "ticketAlert": {"disabled": True}})
    assert all("record" in r for r in rules)
    assert rules[-1]["record"] == "vigil:slo_error_budget_remaining:ratio"


def test_slo_alerts_carry_labels_and_annotations_of_their_own() -> None:
    page, ticket = _alerts(
        slo={
            **SLO,
            "pageAlert": {
                "labels": {"routing_key": "oncall", "team": "override"},
                "annotations": {"summary": "fast", "runbookUrl": "https://r/page"},
            },
            "ticketAlert": {"labels": {"channel": "#slo"}},
        },
        labels={"team": "payments", "tier": "1"},
        annotations={"description": "shared", "runbookUrl": "https://r/all"},
    )
    assert page["labels"] == {
        "team": "override",
        "tier": "1",
        "routing_key": "oncall",
        "severity": "critical",
        "namespace": "team-a",
        "vigil_policy": "team-a/p",
    }
    assert page["annotations"] == {"summary": "fast", "description": "shared", "runbook_url": "https://r/page"}
    assert ticket["labels"]["channel"] == "#slo"
    assert "routing_key" not in ticket["labels"]
    assert ticket["annotations"]["runbook_url"] == "https://r/all"
    assert "burning steadily" in ticket["annotations"]["summary"]


def test_one_slo_severity_means_no_inhibition() -> None:
    routed = {"slo": {**SLO, "ticketAlert": {"disabled": True}}, "receivers": [WEBHOOK]}
    assert inhibitions(_policy(**routed)) == []
    assert len(inhibitions(_policy(slo=SLO, receivers=[WEBHOOK]))) == 1


# --- AlertmanagerConfig ------------------------------------------------------------------------

RECEIVERS = [
    {"name": "chat", "severities": ["warning"], "slack": {"channel": "#alerts", "apiURL": SECRET}},
    {"name": "pager", "severities": ["critical"], "pagerduty": {"routingKey": SECRET}},
    {
        "name": "mail",
        "sendResolved": False,
        "email": {
            "to": ["ops@company.com", "sre@company.com"],
            "from": "am@company.com",
            "smarthost": "smtp.company.com:587",
            "authUsername": "am",
            "authPassword": SECRET,
        },
    },
    {"name": "hook", "webhook": {"url": "http://bot.ops.svc:8080/a", "maxAlerts": 5}},
    {
        "name": "hook-secret",
        "severities": ["warning", "critical"],
        "webhook": {"urlSecret": SECRET},
    },
]
ROUTED = {
    "ratio": {**RATIO, "by": ["route"]},
    "escalation": {"value": 0.2},
    "receivers": RECEIVERS,
    "routing": {
        "groupBy": ["alertname", "job"],
        "groupWait": "10s",
        "groupInterval": "1m",
        "repeatInterval": "30m",
    },
}


def _config(**spec: Any) -> dict[str, Any]:
    config = render_alertmanager_config(_policy(**spec), CTX)
    assert config is not None
    return config


def test_no_receivers_no_alertmanager_config() -> None:
    assert render_alertmanager_config(_policy(expr="up == 0"), CTX) is None
    assert [o["kind"] for o in render_policy(_policy(expr="up == 0"), CTX)] == ["PrometheusRule"]
    assert [o["kind"] for o in render_policy(_policy(**ROUTED), CTX)] == [
        "PrometheusRule",
        "AlertmanagerConfig",
    ]


def test_alertmanager_config_route() -> None:
    config = _config(**ROUTED)
    assert config["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert config["kind"] == "AlertmanagerConfig"
    assert config["metadata"]["name"] == "p-policy"
    route = config["spec"]["route"]
    assert route["receiver"] == NO_RECEIVER
    assert route["matchers"] == [{"name": "vigil_policy", "matchType": "=", "value": "team-a/p"}]
    assert (
        route["groupBy"],
        route["groupWait"],
        route["groupInterval"],
        route["repeatInterval"],
    ) == (
        ["alertname", "job"],
        "10s",
        "1m",
        "30m",
    )
    assert route["routes"] == [
        {
            "receiver": "chat",
            "matchers": [{"name": "severity", "matchType": "=~", "value": "warning"}],
            "continue": True,
        },
        {
            "receiver": "pager",
            "matchers": [{"name": "severity", "matchType": "=~", "value": "critical"}],
            "continue": True,
        },
        {"receiver": "mail", "continue": True},
        {"receiver": "hook", "continue": True},
        {"receiver": "hook-secret", "continue": True},
    ]


def test_alertmanager_config_receivers_reference_secrets() -> None:
    receivers = {r["name"]: r for r in _config(**ROUTED)["spec"]["receivers"]}
    assert receivers[NO_RECEIVER] == {"name": NO_RECEIVER}
    assert receivers["chat"]["slackConfigs"] == [{"apiURL": SECRET, "channel": "#alerts", "sendResolved": True}]
    assert receivers["pager"]["pagerdutyConfigs"] == [{"routingKey": SECRET, "sendResolved": True}]
    assert receivers["mail"]["emailConfigs"] == [
        {
            "to": "ops@company.com, sre@company.com",
            "from": "am@company.com",
            "smarthost": "smtp.company.com:587",
            "requireTLS": True,
            "authUsername": "am",
            "authPassword": SECRET,
            "sendResolved": False,
        }
    ]
    assert receivers["hook"]["webhookConfigs"] == [
        {"url": "http://bot.ops.svc:8080/a", "maxAlerts": 5, "sendResolved": True}
    ]
    assert receivers["hook-secret"]["webhookConfigs"] == [{"urlSecret": SECRET, "maxAlerts": 0, "sendResolved": True}]


def test_critical_inhibits_warning_of_the_same_alert() -> None:
    (rule,) = _config(**ROUTED)["spec"]["inhibitRules"]
    policy_matcher = {"name": "vigil_policy", "matchType": "=", "value": "team-a/p"}
    assert rule["sourceMatch"] == [
        policy_matcher,
        {"name": "severity", "matchType": "=", "value": "critical"},
    ]
    assert rule["targetMatch"] == [
        policy_matcher,
        {"name": "severity", "matchType": "=", "value": "warning"},
    ]
    assert rule["equal"] == ["alertname", "vigil_policy", "route", "job"]


def test_slo_page_inhibits_ticket() -> None:
    (rule,) = inhibitions(_policy(slo=SLO, receivers=[WEBHOOK]))
    assert (rule.source, rule.target, rule.equal) == (
        "critical",
        "warning",
        ("alertname", "vigil_policy"),
    )


@pytest.mark.parametrize(
    "spec",
    [
        {"expr": "up == 0", "receivers": [WEBHOOK]},
        {
            "ratio": RATIO,
            "escalation": {"value": 0.2},
            "receivers": [WEBHOOK],
            "routing": {"inhibit": False},
        },
    ],
    ids=["one-severity", "inhibit-off"],
)
def test_no_inhibition(spec: dict[str, Any]) -> None:
    assert "inhibitRules" not in _config(**spec)["spec"]


def test_severity_grouping_never_disables_inhibition() -> None:
    (rule,) = inhibitions(_policy(slo=SLO, receivers=[WEBHOOK], routing={"groupBy": ["severity", "alertname"]}))
    assert "severity" not in rule.equal


# --- alertmanager.yml --------------------------------------------------------------------------


def test_alertmanager_yaml_routes_each_policy_to_its_receivers() -> None:
    config = render_alertmanager_yaml(
        [
            _policy("b", **ROUTED),
            _policy("a", expr="up == 0", receivers=[WEBHOOK]),
            _policy("c", expr="up == 0"),
        ]
    )
    assert config["route"]["receiver"] == NO_RECEIVER
    routes = config["route"]["routes"]
    assert [r["matchers"] for r in routes] == [
        ['vigil_policy="team-a/a"'],
        ['vigil_policy="team-a/b"'],
    ]
    b = routes[1]
    assert (
        b["receiver"],
        b["group_by"],
        b["group_wait"],
        b["group_interval"],
        b["repeat_interval"],
    ) == (
        NO_RECEIVER,
        ["alertname", "job"],
        "10s",
        "1m",
        "30m",
    )
    assert b["routes"][:2] == [
        {"receiver": "team-a/b/chat", "matchers": ['severity=~"warning"'], "continue": True},
        {"receiver": "team-a/b/pager", "matchers": ['severity=~"critical"'], "continue": True},
    ]
    assert [r["name"] for r in config["receivers"]] == [
        NO_RECEIVER,
        "team-a/a/hook",
        "team-a/b/chat",
        "team-a/b/pager",
        "team-a/b/mail",
        "team-a/b/hook",
        "team-a/b/hook-secret",
    ]
    assert config["inhibit_rules"] == [
        {
            "source_matchers": ['vigil_policy="team-a/b"', 'severity="critical"'],
            "target_matchers": ['vigil_policy="team-a/b"', 'severity="warning"'],
            "equal": ["alertname", "vigil_policy", "route", "job"],
        }
    ]


def test_alertmanager_yaml_reads_secrets_from_files() -> None:
    receivers = {r["name"]: r for r in render_alertmanager_yaml([_policy(**ROUTED)], "/run/secrets/")["receivers"]}
    assert receivers["team-a/p/chat"]["slack_configs"] == [
        {"api_url_file": "/run/secrets/alerts/token", "channel": "#alerts", "send_resolved": True}
    ]
    assert receivers["team-a/p/pager"]["pagerduty_configs"] == [
        {"routing_key_file": "/run/secrets/alerts/token", "send_resolved": True}
    ]
    mail = receivers["team-a/p/mail"]["email_configs"][0]
    assert (mail["auth_username"], mail["auth_password_file"], mail["send_resolved"]) == (
        "am",
        "/run/secrets/alerts/token",
        False,
    )
    assert receivers["team-a/p/hook"]["webhook_configs"] == [
        {"url": "http://bot.ops.svc:8080/a", "max_alerts": 5, "send_resolved": True}
    ]
    assert receivers["team-a/p/hook-secret"]["webhook_configs"][0]["url_file"] == "/run/secrets/alerts/token"


def test_default_secrets_dir_is_prometheus_operators() -> None:
    config = render_alertmanager_yaml([_policy(**ROUTED)])
    slack = next(r for r in config["receivers"] if r["name"] == "team-a/p/chat")
    assert slack["slack_configs"][0]["api_url_file"] == "/etc/alertmanager/secrets/alerts/token"


def test_empty_alertmanager_yaml_is_still_a_config() -> None:
    assert render_alertmanager_yaml([]) == {
        "route": {"receiver": NO_RECEIVER, "routes": []},
        "receivers": [{"name": NO_RECEIVER}],
    }


def test_referenced_secrets() -> None:
    other = {"name": "w", "webhook": {"urlSecret": {"name": "hook-url", "key": "u"}}}
    assert referenced_secrets([_policy(**ROUTED), _policy("q", expr="up == 0", receivers=[other, WEBHOOK])]) == [
        "alerts",
        "hook-url",
    ]


# --- properties of every renderer --------------------------------------------------------------

EVERY_KIND = {
    "threshold": {
        "threshold": {"expr": "x", "comparison": ">", "value": 1},
        "escalation": {"value": 2},
    },
    "ratio": ROUTED,
    "expr": {"expr": "up == 0", "receivers": [WEBHOOK]},
    "slo": {"slo": SLO, "receivers": RECEIVERS[:2]},
}


@pytest.mark.parametrize("spec", EVERY_KIND.values(), ids=EVERY_KIND.keys())
def test_rendering_is_deterministic_and_leaves_the_policy_alone(spec: dict[str, Any]) -> None:
    model = _policy(**spec)
    before = model.model_dump()
    first = yaml.safe_dump_all(render_policy(model, CTX))
    assert yaml.safe_dump_all(render_policy(model, CTX)) == first
    assert yaml.safe_dump(render_alertmanager_yaml([model])) == yaml.safe_dump(render_alertmanager_yaml([model]))
    assert model.model_dump() == before


@pytest.mark.parametrize("spec", EVERY_KIND.values(), ids=EVERY_KIND.keys())
def test_every_alert_is_labelled_for_routing(spec: dict[str, Any]) -> None:
    for group in render_rule_groups(_policy(**spec)):
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["labels"]["vigil_policy"] == "team-a/p"
                assert rule["labels"]["namespace"] == "team-a"
                assert rule["labels"]["severity"] in ("critical", "warning", "info")
            else:
                assert rule["labels"] == {"vigil_policy": "team-a/p"}


def test_cli_prints_alertmanager_yaml(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump_all([policy("p", **ROUTED), policy("q", expr="up == 0")]))
    assert main(["render", "--alertmanager-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# alertmanager.yml rendered by vigil")
    assert "#   alerts\n" in out
    config = yaml.safe_load(out)
    assert config == render_alertmanager_yaml([_policy("p", **ROUTED)])


# --- label values in PromQL are string literals, never syntax -------------------------------------


@pytest.mark.parametrize("hostile", ['x"} or vector(1) #', "a\\", 'a\n"b', "ns\u202e"])
def test_label_values_in_promql_stay_string_literals(hostile: str) -> None:
    # Namespaces are validated before rendering; the renderer escapes regardless.
    valid = _policy(ratio=RATIO)
    unchecked = ObjectMeta.model_construct(name="p", namespace=hostile, labels={}, annotations={})
    rules = render_rule_groups(valid.model_copy(update={"metadata": unchecked}))[0]["rules"]
    alert = next(r for r in rules if "alert" in r)
    parsed = promql_parser.parse(alert["expr"])
    assert isinstance(parsed, promql_parser.BinaryExpr)
    assert isinstance(parsed.lhs, promql_parser.VectorSelector)
    matchers = {m.name: m.value for m in parsed.lhs.matchers.matchers}
    assert parsed.lhs.name == "vigil:policy_errors:ratio_rate5m"
    assert matchers == {"vigil_policy": f"{hostile}/p"}
