"""AlertPolicy: every alert kind accepted, every invalid shape rejected with the field path."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.helpers import deep, policy
from vigil.models.policy import (
    AlertPolicy,
    default_alert_name,
    format_number,
    has_window,
    promql_problem,
    seconds,
    template_problem,
    with_window,
)
from vigil.parse import parse_document

SECRET = {"name": "alerts", "key": "token"}
WEBHOOK = {"name": "hook", "webhook": {"url": "https://hooks.example.com/a"}}
RATIO = {
    "errors": 'http_requests_total{code=~"5.."}',
    "total": "http_requests_total",
    "comparison": ">",
    "value": 0.05,
}
SLO = {
    "objective": 99.9,
    "errorQuery": 'sum(rate(http_requests_total{code=~"5.."}[{{window}}]))',
    "totalQuery": "sum(rate(http_requests_total[{{window}}]))",
}


VALID = {
    "threshold": {"threshold": {"expr": "node_load1", "comparison": ">", "value": 4}},
    "threshold-histogram": {
        "threshold": {
            "expr": "histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))",
            "comparison": ">=",
            "value": 0.5,
        },
        "escalation": {"value": 2, "for": "1m"},
    },
    "ratio-selectors": {"ratio": {**RATIO, "by": ["job"], "window": "10m"}},
    "ratio-queries": {
        "ratio": {
            "errors": "sum(rate(a_total[{{window}}]))",
            "total": "sum(rate(b_total[{{window}}]))",
            "comparison": "<",
            "value": 0.99,
        },
        "severity": "info",
        "escalation": {"value": 0.9, "severity": "warning"},
    },
    "expr": {"expr": "up == 0", "severity": "critical", "for": "1m", "keepFiringFor": "5m"},
    "slo-errors": {"slo": SLO},
    "slo-good": {
        "slo": {
            "objective": 99,
            "window": "28d",
            "goodQuery": 'sum(rate(http_requests_total{code!~"5.."}[{{window}}]))',
            "totalQuery": "sum(rate(http_requests_total[{{window}}]))",
            "pageSeverity": "warning",
            "ticketSeverity": "info",
        }
    },
    "slo-sloth-placeholder": {
        "slo": {
            "objective": 99.5,
            "errorQuery": 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
            "totalQuery": "sum(rate(http_requests_total[{{ .window }}]))",
        }
    },
    "slo-error-ratio": {
        "slo": {
            "objective": 99,
            "window": "7d",
            "scrapeInterval": "30s",
            "errorRatioQuery": "1 - avg(avg_over_time(probe_success[{{window}}]))",
        }
    },
    "slo-alerts-of-their-own": {
        "slo": {
            **SLO,
            "pageAlert": {
                "labels": {"routing_key": "payments-oncall"},
                "annotations": {"summary": "fast burn", "runbookUrl": "https://r/page"},
            },
            "ticketAlert": {"disabled": True},
        },
        "labels": {"team": "payments"},
        "receivers": [{**WEBHOOK, "severities": ["critical"]}],
    },
    "slo-recording-only": {"slo": {**SLO, "pageAlert": {"disabled": True}, "ticketAlert": {"disabled": True}}},
    "slo-ticket-only-critical": {"slo": {**SLO, "pageAlert": {"disabled": True}, "ticketSeverity": "critical"}},
    "ratio-sloth-placeholder": {
        "ratio": {
            "errors": "sum(rate(a_total[{{.window}}]))",
            "total": "sum(rate(b_total[{{.window}}]))",
            "comparison": ">",
            "value": 0.1,
        }
    },
    "every-receiver": {
        "expr": "up == 0",
        "severity": "critical",
        "receivers": [
            {"name": "s", "slack": {"channel": "#a", "apiURL": SECRET}},
            {"name": "p", "severities": ["critical"], "pagerduty": {"routingKey": SECRET}},
            {
                "name": "e",
                "email": {
                    "to": ["ops@company.com"],
                    "from": "am@company.com",
                    "smarthost": "smtp:587",
                    "authUsername": "am",
                    "authPassword": SECRET,
                },
            },
            WEBHOOK,
            {"name": "w2", "webhook": {"urlSecret": SECRET, "maxAlerts": 10}},
        ],
        "routing": {
            "groupBy": ["alertname", "job"],
            "groupWait": "10s",
            "groupInterval": "1m",
            "repeatInterval": "1h30m",
            "inhibit": False,
        },
    },
    "annotations-and-labels": {
        "expr": "up == 0",
        "labels": {"team": "payments", "instance_of": "{{ $labels.job }}"},
        "annotations": {
            "summary": '{{ $labels.job }} down ({{ printf "%.2f" $value }})',
            "description": "{{- if gt $value 1.0 -}} many {{- end }} {{/* a comment */}}",
            "runbookUrl": "https://runbooks.example.com/job-down",
        },
        "alertName": "JobDown",
        "prometheusLabels": {"release": "kube-prometheus-stack"},
    },
}


@pytest.mark.parametrize("spec", VALID.values(), ids=VALID.keys())
def test_valid_policies_parse(spec: dict[str, Any]) -> None:
    parsed = AlertPolicy.model_validate(policy(**spec))
    assert parsed.spec.alert_kind == next(k for k in ("threshold", "ratio", "expr", "slo") if k in spec)


def test_defaults_are_applied() -> None:
    parsed = AlertPolicy.model_validate(policy(ratio=RATIO, receivers=[WEBHOOK]))
    assert parsed.spec.ratio is not None
    assert parsed.spec.ratio.window == "5m"
    assert parsed.spec.ratio.by == []
    assert parsed.spec.severity is None
    assert parsed.spec.severities() == ["warning"]
    routing = parsed.spec.effective_routing
    assert (routing.group_by, routing.group_wait, routing.group_interval) == (
        ["alertname"],
        "30s",
        "5m",
    )
    assert (routing.repeat_interval, routing.inhibit) == ("4h", True)
    assert parsed.spec.receivers[0].send_resolved is True
    assert parsed.spec.receivers[0].type == "webhook"


def test_slo_defaults() -> None:
    slo = AlertPolicy.model_validate(policy(slo=SLO)).spec.slo
    assert slo is not None
    assert (slo.window, slo.page_severity, slo.ticket_severity) == ("30d", "critical", "warning")
    assert slo.scrape_interval == "1m"
    assert (slo.page_alert.disabled, slo.page_alert.labels, slo.page_alert.annotations) == (False, {}, None)
    assert slo.ticket_alert.disabled is False


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("rate(x[{{window}}])", True),
        ("rate(x[{{.window}}])", True),
        ("rate(x[{{ .window }}])", True),
        ("rate(x[{{ window }}])", True),
        ("rate(x[{{.Window}}])", False),
        ("rate(x[{{$window}}])", False),
        ("rate(x[{window}])", False),
        ("rate(x[5m])", False),
    ],
)
def test_window_placeholder_spellings(query: str, found: bool) -> None:
    assert has_window(query) is found
    assert ("7h" in with_window(query, "7h")) is found


def test_with_window_replaces_every_spelling() -> None:
    query = "sum(rate(a[{{window}}])) / sum(rate(b[{{.window}}])) + sum(rate(c[{{ .window }}]))"
    assert with_window(query, "1h") == "sum(rate(a[1h])) / sum(rate(b[1h])) + sum(rate(c[1h]))"


@pytest.mark.parametrize(
    ("spec", "severities"),
    [
        ({"expr": "up == 0"}, ["warning"]),
        ({"expr": "up == 0", "severity": "info"}, ["info"]),
        ({"ratio": RATIO, "escalation": {"value": 0.5}}, ["critical", "warning"]),
        (
            {
                "ratio": RATIO,
                "severity": "info",
                "escalation": {"value": 0.5, "severity": "warning"},
            },
            ["warning", "info"],
        ),
        ({"slo": SLO}, ["critical", "warning"]),
        ({"slo": {**SLO, "ticketAlert": {"disabled": True}}}, ["critical"]),
        ({"slo": {**SLO, "pageAlert": {"disabled": True}, "ticketSeverity": "info"}}, ["info"]),
        ({"slo": {**SLO, "pageAlert": {"disabled": True}, "ticketAlert": {"disabled": True}}}, []),
    ],
)
def test_severities_raised_highest_first(spec: dict[str, Any], severities: list[str]) -> None:
    assert AlertPolicy.model_validate(policy(**spec)).spec.severities() == severities


def test_wire_names_round_trip() -> None:
    doc = policy(**VALID["every-receiver"], **{"for": "2m"})
    dumped = AlertPolicy.model_validate(doc).model_dump(by_alias=True, exclude_none=True)
    assert dumped["spec"]["for"] == "2m"
    assert dumped["spec"]["receivers"][0]["slack"]["apiURL"] == SECRET
    assert dumped["spec"]["receivers"][2]["email"]["from"] == "am@company.com"
    assert dumped["spec"]["receivers"][4]["webhook"]["urlSecret"] == SECRET


def test_models_are_frozen() -> None:
    parsed = AlertPolicy.model_validate(policy(expr="up == 0"))
    with pytest.raises(ValidationError):
        parsed.spec.expr = "up == 1"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "alert"),
    [
        ("task-failure-rate", "TaskFailureRate"),
        ("api", "Api"),
        ("5xx-rate", "Alert5xxRate"),
        ("a.b", "AB"),
    ],
)
def test_default_alert_name_is_camel_case(name: str, alert: str) -> None:
    assert default_alert_name(name) == alert
    assert AlertPolicy.model_validate(policy(name, expr="up == 0")).alert_name == alert


def test_alert_name_and_policy_id() -> None:
    parsed = AlertPolicy.model_validate(policy("x", expr="up == 0", alertName="Custom"))
    assert parsed.alert_name == "Custom"
    assert parsed.policy_id == "team-a/x"


# (spec, path, message fragment). Paths and messages are what `vigil validate` prints.
INVALID = {
    "no-kind": ({}, "spec", "set exactly one kind of alert: threshold, ratio, expr or slo"),
    "two-kinds": (
        {"expr": "up == 0", "slo": SLO},
        "spec",
        "set exactly one kind of alert: threshold, ratio, expr or slo",
    ),
    "bad-promql-threshold": (
        {"threshold": {"expr": "rate(x[5m]", "comparison": ">", "value": 1}},
        "spec.threshold.expr",
        'Invalid value: "rate(x[5m]": invalid PromQL: unclosed left parenthesis',
    ),
    "bad-promql-expr": (
        {"expr": "sum(x) by (le"},
        "spec.expr",
        "invalid PromQL: unclosed left parenthesis",
    ),
    "unknown-function": (
        {"expr": "rates(x[5m]) > 1"},
        "spec.expr",
        "invalid PromQL: unknown function with name 'rates'",
    ),
    "range-vector-expr": (
        {"expr": "x[5m]"},
        "spec.expr",
        "must evaluate to an instant vector or a scalar, not a range vector",
    ),
    "string-expr": ({"expr": '"text"'}, "spec.expr", "not a string"),
    "scalar-comparison": (
        {"threshold": {"expr": "scalar(x)", "comparison": ">", "value": 1}},
        "spec.threshold",
        "invalid PromQL: comparisons between scalars must use BOOL modifier",
    ),
    "bad-comparison": (
        {"threshold": {"expr": "x", "comparison": "=>", "value": 1}},
        "spec.threshold.comparison",
        'Unsupported value: "=>"',
    ),
    "infinite-value": (
        {"threshold": {"expr": "x", "comparison": ">", "value": float("inf")}},
        "spec.threshold.value",
        "finite number",
    ),
    "ratio-not-selector": (
        {"ratio": {**RATIO, "errors": "rate(x[5m])"}},
        "spec.ratio.errors",
        "must be a counter selector",
    ),
    "ratio-selector-offset": (
        {"ratio": {**RATIO, "total": "http_requests_total offset 1h"}},
        "spec.ratio.total",
        "must be a counter selector",
    ),
    "ratio-bad-selector": (
        {"ratio": {**RATIO, "total": "x{"}},
        "spec.ratio.total",
        "invalid PromQL: unexpected end of input inside braces",
    ),
    "ratio-mixed-styles": (
        {"ratio": {**RATIO, "total": "sum(rate(x[{{window}}]))"}},
        "spec.ratio",
        "errors and total must both be counter selectors, or both queries containing {{window}}",
    ),
    "ratio-by-with-queries": (
        {
            "ratio": {
                **RATIO,
                "errors": "sum(rate(e[{{window}}]))",
                "total": "sum(rate(t[{{window}}]))",
                "by": ["job"],
            }
        },
        "spec.ratio",
        "by applies to counter selectors: aggregate inside queries that contain {{window}}",
    ),
    "ratio-window-zero": (
        {"ratio": {**RATIO, "window": "0"}},
        "spec.ratio.window",
        'Invalid value: "0"',
    ),
    "ratio-bad-by": (
        {"ratio": {**RATIO, "by": ["1job"]}},
        "spec.ratio.by[0]",
        'Invalid value: "1job"',
    ),
    "slo-both-queries": (
        {"slo": {**SLO, "goodQuery": "sum(rate(g[{{window}}]))"}},
        "spec.slo",
        "set exactly one of errorQuery or goodQuery (each with totalQuery), or errorRatioQuery",
    ),
    "slo-no-query": (
        {"slo": {"objective": 99, "totalQuery": "sum(rate(t[{{window}}]))"}},
        "spec.slo",
        "set exactly one of errorQuery or goodQuery (each with totalQuery), or errorRatioQuery",
    ),
    "slo-ratio-and-errors": (
        {"slo": {**SLO, "errorRatioQuery": "avg(rate(r[{{window}}]))"}},
        "spec.slo",
        "set exactly one of errorQuery or goodQuery (each with totalQuery), or errorRatioQuery",
    ),
    "slo-no-total": (
        {"slo": {"objective": 99, "errorQuery": "sum(rate(e[{{window}}]))"}},
        "spec.slo",
        "totalQuery is required with errorQuery or goodQuery, and must be left out with errorRatioQuery",
    ),
    "slo-ratio-with-total": (
        {
            "slo": {
                "objective": 99,
                "errorRatioQuery": "avg(rate(r[{{window}}]))",
                "totalQuery": "sum(rate(t[{{window}}]))",
            }
        },
        "spec.slo",
        "totalQuery is required with errorQuery or goodQuery, and must be left out with errorRatioQuery",
    ),
    "slo-no-placeholder": (
        {"slo": {**SLO, "totalQuery": "sum(rate(t[5m]))"}},
        "spec.slo",
        "errorQuery, goodQuery, errorRatioQuery and totalQuery must contain {{window}} (or Sloth's {{.window}})",
    ),
    "slo-ratio-no-placeholder": (
        {"slo": {"objective": 99, "errorRatioQuery": "avg(rate(r[5m]))"}},
        "spec.slo",
        "errorQuery, goodQuery, errorRatioQuery and totalQuery must contain {{window}}",
    ),
    "slo-placeholder-misspelt": (
        {"slo": {**SLO, "errorQuery": "sum(rate(e[{{.Window}}]))"}},
        "spec.slo.errorQuery",
        'unknown placeholder "{{.Window}}": write {{window}} (or Sloth\'s {{.window}}) where the range '
        "goes, e.g. rate(x[{{window}}])",
    ),
    "slo-placeholder-misspelt-with-a-right-one": (
        {"slo": {**SLO, "totalQuery": "sum(rate(t[{{window}}])) + sum(rate(u[{{ $window }}]))"}},
        "spec.slo.totalQuery",
        'unknown placeholder "{{ $window }}"',
    ),
    "expr-with-placeholder": (
        {"expr": "rate(x[{{window}}]) > 1"},
        "spec.expr",
        "{{window}} belongs in ratio and slo queries only: write the range here, e.g. rate(x[5m])",
    ),
    "threshold-with-placeholder": (
        {"threshold": {"expr": "rate(x[{{.window}}])", "comparison": ">", "value": 1}},
        "spec.threshold.expr",
        "{{window}} belongs in ratio and slo queries only",
    ),
    "slo-bad-ratio-query": (
        {"slo": {"objective": 99, "errorRatioQuery": "avg(r[{{window}}])"}},
        "spec.slo.errorRatioQuery",
        "invalid PromQL: expected type vector in aggregation expression, got matrix",
    ),
    "slo-scrape-interval-zero": (
        {"slo": {**SLO, "scrapeInterval": "0s"}},
        "spec.slo",
        "scrapeInterval must be between 1s and 5m (Prometheus marks a series stale after 5m without a sample)",
    ),
    "slo-scrape-interval-too-long": (
        {"slo": {**SLO, "scrapeInterval": "10m"}},
        "spec.slo",
        "scrapeInterval must be between 1s and 5m",
    ),
    "slo-scrape-interval-days": (
        {"slo": {**SLO, "scrapeInterval": "1d"}},
        "spec.slo.scrapeInterval",
        'Invalid value: "1d"',
    ),
    "slo-alert-reserved-label": (
        {"slo": {**SLO, "pageAlert": {"labels": {"severity": "page"}}}},
        "spec.slo.pageAlert",
        "labels must not set alertname, severity, namespace, vigil_policy or vigil_stack: Vigil sets them (use "
        "slo.pageSeverity or slo.ticketSeverity for the severity)",
    ),
    "slo-alert-bad-label-value": (
        {"slo": {**SLO, "ticketAlert": {"labels": {"channel": "{{ $labels.x"}}}},
        "spec.slo.ticketAlert.labels.channel",
        "invalid template",
    ),
    "slo-alert-unknown-field": (
        {"slo": {**SLO, "pageAlert": {"disable": True}}},
        "spec.slo.pageAlert.disable",
        'unknown field "spec.slo.pageAlert.disable"',
    ),
    "slo-disabled-alert-receiver": (
        {
            "slo": {**SLO, "ticketAlert": {"disabled": True}},
            "receivers": [{**WEBHOOK, "severities": ["warning"]}],
        },
        "spec",
        "every receiver must take at least one severity this policy raises",
    ),
    "slo-no-alert-but-receivers": (
        {
            "slo": {**SLO, "pageAlert": {"disabled": True}, "ticketAlert": {"disabled": True}},
            "receivers": [WEBHOOK],
        },
        "spec",
        "with slo.pageAlert and slo.ticketAlert disabled the policy raises no alert: remove "
        "receivers (and routing), or enable one of the alerts",
    ),
    "slo-bad-query": (
        {"slo": {**SLO, "errorQuery": "sum(rate(e[{{window}}])"}},
        "spec.slo.errorQuery",
        "invalid PromQL: unclosed left parenthesis",
    ),
    "slo-objective-100": (
        {"slo": {**SLO, "objective": 100}},
        "spec.slo.objective",
        "less than 100",
    ),
    "slo-objective-0": ({"slo": {**SLO, "objective": 0}}, "spec.slo.objective", "greater than 0"),
    "slo-window-hours": (
        {"slo": {**SLO, "window": "72h"}},
        "spec.slo.window",
        'Invalid value: "72h"',
    ),
    "slo-window-too-long": (
        {"slo": {**SLO, "window": "91d"}},
        "spec.slo.window",
        'Invalid value: "91d"',
    ),
    "slo-severities-inverted": (
        {"slo": {**SLO, "pageSeverity": "warning", "ticketSeverity": "critical"}},
        "spec.slo",
        "pageSeverity must be higher than ticketSeverity",
    ),
    "slo-with-severity": (
        {"slo": SLO, "severity": "critical"},
        "spec",
        "severity does not apply to slo: set slo.pageSeverity and slo.ticketSeverity",
    ),
    "escalation-on-expr": (
        {"expr": "up == 0", "escalation": {"value": 1}},
        "spec",
        "escalation applies to threshold and ratio alerts (an slo pages by itself)",
    ),
    "escalation-not-higher": (
        {"ratio": RATIO, "severity": "critical", "escalation": {"value": 0.5}},
        "spec",
        "escalation.severity must be higher than severity",
    ),
    "escalation-not-stricter": (
        {"ratio": RATIO, "escalation": {"value": 0.01}},
        "spec",
        "escalation.value must be stricter than value",
    ),
    "escalation-not-stricter-below": (
        {"threshold": {"expr": "x", "comparison": "<=", "value": 1}, "escalation": {"value": 2}},
        "spec",
        "escalation.value must be stricter than value",
    ),
    "escalation-equality": (
        {"threshold": {"expr": "x", "comparison": "==", "value": 1}, "escalation": {"value": 2}},
        "spec",
        "== and != cannot escalate",
    ),
    "bad-severity": (
        {"expr": "up == 0", "severity": "page"},
        "spec.severity",
        'Unsupported value: "page"',
    ),
    "bad-for": ({"expr": "up == 0", "for": "1d"}, "spec.for", 'Invalid value: "1d"'),
    "bad-for-order": ({"expr": "up == 0", "for": "5m1h"}, "spec.for", 'Invalid value: "5m1h"'),
    "bad-keep-firing-for": (
        {"expr": "up == 0", "keepFiringFor": "soon"},
        "spec.keepFiringFor",
        'Invalid value: "soon"',
    ),
    "bad-label-name": (
        {"expr": "up == 0", "labels": {"team-name": "x"}},
        "spec.labels.team-name.[key]",
        'Invalid value: "team-name"',
    ),
    "reserved-label": (
        {"expr": "up == 0", "labels": {"vigil_policy": "x"}},
        "spec",
        "labels must not set alertname, severity, namespace, vigil_policy or vigil_stack",
    ),
    "reserved-label-stack": (
        {"expr": "up == 0", "labels": {"vigil_stack": "team-a/aureus"}},
        "spec",
        "labels must not set alertname, severity, namespace, vigil_policy or vigil_stack",
    ),
    "bad-alert-name": (
        {"expr": "up == 0", "alertName": "Job-Down"},
        "spec.alertName",
        'Invalid value: "Job-Down"',
    ),
    "template-unclosed": (
        {"expr": "up == 0", "annotations": {"summary": "{{ $value }"}},
        "spec.annotations.summary",
        'invalid template: offset 10: unexpected "}" in operand',
    ),
    "template-stray-close": (
        {"expr": "up == 0", "annotations": {"description": "{ $labels.job }}"}},
        "spec.annotations.description",
        'invalid template: offset 14: unexpected "}}" outside an action',
    ),
    "template-empty": (
        {"expr": "up == 0", "annotations": {"summary": "x {{ }}"}},
        "spec.annotations.summary",
        "invalid template: offset 5: missing value for command",
    ),
    "template-in-label": (
        {"expr": "up == 0", "labels": {"team": "{{ $labels.team "}},
        "spec.labels.team",
        "invalid template",
    ),
    "bad-runbook-url": (
        {"expr": "up == 0", "annotations": {"runbookUrl": "runbooks/job-down"}},
        "spec.annotations.runbookUrl",
        'Invalid value: "runbooks/job-down"',
    ),
    "receiver-two-types": (
        {"expr": "up == 0", "receivers": [{**WEBHOOK, "pagerduty": {"routingKey": SECRET}}]},
        "spec.receivers[0]",
        "set exactly one receiver type: slack, pagerduty, email or webhook",
    ),
    "receiver-no-type": (
        {"expr": "up == 0", "receivers": [{"name": "x"}]},
        "spec.receivers[0]",
        "set exactly one receiver type",
    ),
    "receiver-duplicate-name": (
        {"expr": "up == 0", "receivers": [WEBHOOK, WEBHOOK]},
        "spec.receivers",
        'Duplicate value: "hook": give each entry its own name',
    ),
    "receiver-bad-name": (
        {"expr": "up == 0", "receivers": [{**WEBHOOK, "name": "On Call"}]},
        "spec.receivers[0].name",
        'Invalid value: "On Call"',
    ),
    "webhook-both": (
        {
            "expr": "up == 0",
            "receivers": [{"name": "w", "webhook": {"url": "https://x/y", "urlSecret": SECRET}}],
        },
        "spec.receivers[0].webhook",
        "set exactly one of url or urlSecret",
    ),
    "webhook-neither": (
        {"expr": "up == 0", "receivers": [{"name": "w", "webhook": {}}]},
        "spec.receivers[0].webhook",
        "set exactly one of url or urlSecret",
    ),
    "webhook-bad-url": (
        {"expr": "up == 0", "receivers": [{"name": "w", "webhook": {"url": "hooks.example.com"}}]},
        "spec.receivers[0].webhook.url",
        "Invalid value: (not shown: the field may hold a credential): should match",
    ),
    "webhook-url-with-credentials": (
        {"expr": "up == 0", "receivers": [{"name": "w", "webhook": {"url": "https://bot:s3cret@hooks.example.com/a"}}]},
        "spec.receivers[0].webhook",
        "url must not contain credentials (user:password@): put the URL in a Secret and set urlSecret instead",
    ),
    "runbook-url-with-credentials": (
        {"expr": "up == 0", "annotations": {"runbookUrl": "https://wiki:pw@wiki.example.com/runbook"}},
        "spec.annotations",
        "runbookUrl must not contain credentials",
    ),
    "label-reserved-by-prometheus": (
        {"expr": "up == 0", "labels": {"__name__": "other_metric"}},
        "spec.labels",
        "label names must not start with __: Prometheus reserves them",
    ),
    "email-to-with-crlf": (
        {
            "expr": "up == 0",
            "receivers": [
                {"name": "m", "email": {"to": ["ops@x.com\r\nBcc: all@x.com"], "from": "am@x.com", "smarthost": "s:25"}}
            ],
        },
        "spec.receivers[0].email.to[0]",
        "should match",
    ),
    "email-username-with-newline": (
        {
            "expr": "up == 0",
            "receivers": [
                {
                    "name": "m",
                    "email": {
                        "to": ["ops@x.com"],
                        "from": "am@x.com",
                        "smarthost": "s:25",
                        "authUsername": "am\nRCPT TO:<x@y>",
                        "authPassword": {"name": "s", "key": "k"},
                    },
                }
            ],
        },
        "spec.receivers[0].email.authUsername",
        "should match",
    ),
    "slack-inline-url": (
        {
            "expr": "up == 0",
            "receivers": [{"name": "s", "slack": {"channel": "#a", "apiURL": "https://hooks"}}],
        },
        "spec.receivers[0].slack.apiURL",
        "Invalid value",
    ),
    "slack-secret-without-key": (
        {
            "expr": "up == 0",
            "receivers": [{"name": "s", "slack": {"channel": "#a", "apiURL": {"name": "s"}}}],
        },
        "spec.receivers[0].slack.apiURL.key",
        "Required value: set key",
    ),
    "pagerduty-inline-key": (
        {
            "expr": "up == 0",
            "receivers": [{"name": "p", "pagerduty": {"routingKey": {"value": "abc"}}}],
        },
        "spec.receivers[0].pagerduty.routingKey.value",
        'unknown field "spec.receivers[0].pagerduty.routingKey.value"',
    ),
    "email-password-without-user": (
        {
            "expr": "up == 0",
            "receivers": [
                {
                    "name": "e",
                    "email": {
                        "to": ["a@b.c"],
                        "from": "d@e.f",
                        "smarthost": "s:25",
                        "authPassword": SECRET,
                    },
                }
            ],
        },
        "spec.receivers[0].email",
        "authUsername and authPassword must be set together",
    ),
    "email-no-recipient": (
        {
            "expr": "up == 0",
            "receivers": [{"name": "e", "email": {"to": [], "from": "d@e.f", "smarthost": "s:25"}}],
        },
        "spec.receivers[0].email.to",
        "should have at least 1 items",
    ),
    "email-smarthost-without-port": (
        {
            "expr": "up == 0",
            "receivers": [{"name": "e", "email": {"to": ["a@b.c"], "from": "d@e.f", "smarthost": "smtp"}}],
        },
        "spec.receivers[0].email.smarthost",
        'Invalid value: "smtp"',
    ),
    "receiver-bad-severity": (
        {"expr": "up == 0", "receivers": [{**WEBHOOK, "severities": ["page"]}]},
        "spec.receivers[0].severities[0]",
        'Unsupported value: "page"',
    ),
    "receiver-gets-nothing": (
        {"expr": "up == 0", "receivers": [{**WEBHOOK, "severities": ["critical"]}]},
        "spec",
        "every receiver must take at least one severity this policy raises",
    ),
    "slo-receiver-gets-nothing": (
        {"slo": SLO, "receivers": [{**WEBHOOK, "severities": ["info"]}]},
        "spec",
        "every receiver must take at least one severity this policy raises",
    ),
    "routing-without-receivers": (
        {"expr": "up == 0", "routing": {}},
        "spec",
        "routing applies to receivers: add at least one receiver or remove routing",
    ),
    "repeat-below-group-interval": (
        {
            "expr": "up == 0",
            "receivers": [WEBHOOK],
            "routing": {"groupInterval": "10m", "repeatInterval": "5m"},
        },
        "spec.routing",
        "repeatInterval (the cooldown) must not be shorter than groupInterval",
    ),
    "group-interval-zero": (
        {
            "expr": "up == 0",
            "receivers": [WEBHOOK],
            "routing": {"groupInterval": "0", "repeatInterval": "5m"},
        },
        "spec.routing",
        "groupInterval and repeatInterval must be longer than 0s",
    ),
    "routing-bad-duration": (
        {"expr": "up == 0", "receivers": [WEBHOOK], "routing": {"groupWait": "30 seconds"}},
        "spec.routing.groupWait",
        'Invalid value: "30 seconds"',
    ),
    "routing-bad-group-label": (
        {"expr": "up == 0", "receivers": [WEBHOOK], "routing": {"groupBy": ["..."]}},
        "spec.routing.groupBy[0]",
        'Invalid value: "..."',
    ),
    "unknown-field": (
        {"expr": "up == 0", "cooldown": "5m"},
        "spec.cooldown",
        'unknown field "spec.cooldown"',
    ),
}


@pytest.mark.parametrize(("spec", "path", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_policies_name_the_field(spec: dict[str, Any], path: str, message: str) -> None:
    doc = policy(**spec)
    before = deep(doc)
    problems = parse_document(doc)
    assert isinstance(problems, list), "expected a rejection"
    found = [(p.path, p.message) for p in problems]
    assert any(p == path and message in m for p, m in found), found
    assert doc == before, "validation must not mutate its input"


@pytest.mark.parametrize(
    "query",
    [
        "up",
        "up == 0",
        "sum by (job) (rate(x[5m])) / sum by (job) (rate(y[5m])) > 0.1",
        "vector(1)",
        "1",
        "-x",
    ],
)
def test_promql_accepted(query: str) -> None:
    assert promql_problem(query) is None


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "no expression found in input"),
        ("x[5m]", "not a range vector"),
        ("x[5m:1m]", "not a range vector"),
        ("(x[5m])", "not a range vector"),
        ('"s"', "not a string"),
        ("rate(x)", "expected type matrix in call to function 'rate', got vector"),
    ],
)
def test_promql_rejected_with_the_parsers_words(query: str, problem: str) -> None:
    found = promql_problem(query)
    assert found is not None
    assert problem in found


TEMPLATES_ACCEPTED = [
    "plain text { with } single braces",
    "{{ $labels.job }} and {{ $value | humanizePercentage }}",
    '{{ "}}" }}',
    "{{- range $i, $e := .Alerts -}}{{ $e.Labels.x }}{{- end -}}",
    "{{ printf `%s}}` $value }}",
    "{{/* a comment */}}{{ $externalLabels.cluster }} {{ $externalURL }}",
    "{{ if gt $value 0.5 }}high{{ else if eq $value 0.0 }}none{{ else }}low{{ end }}",
    '{{ with $x := query "up" }}{{ $x | first | value | humanize }}{{ end }}',
    '{{ range query "up" }}{{ if eq .Value 0.0 }}{{ break }}{{ end }}{{ .Labels.job }}{{ end }}',
    '{{ define "x" }}{{ . }}{{ end }}{{ template "x" $labels }}',
    '{{ (index $labels "job") | toUpper | printf "%s" }}',
    "{{ 'a' }} {{ 0x1F }} {{ 1e3 }} {{ -2 }} {{ true }} {{ $value.X.Y }}",
    "{{ nil -2 | printf }}",
]
"""Go templates as Prometheus parses them (tests/tools/test_templates_promtool.py asks promtool too)."""


@pytest.mark.parametrize("text", TEMPLATES_ACCEPTED)
def test_templates_accepted(text: str) -> None:
    assert template_problem(text) is None


TEMPLATES_REJECTED = [
    ("{{ $value", "offset 0: unclosed action"),
    ("a }} b", 'offset 2: unexpected "}}" outside an action'),
    ("{{ {{ $value }}", 'offset 3: unexpected "{" in command'),
    ('{{ "open }}', "offset 3: unterminated quoted string"),
    ("{{ `open }}", "offset 3: unterminated raw quoted string"),
    ("{{ printf (len $value }}", "unclosed left paren"),
    ("{{ printf len $value) }}", "unexpected right paren"),
    ("{{}}", "missing value for command"),
    ("{{ if }}x{{ end }}", "missing value for if"),
    ("{{ humanizeBytes $value }}", 'function "humanizeBytes" not defined'),
    ("{{ $x }}", 'undefined variable "$x"'),
    ("{{ with $x := 1 }}{{ end }}{{ $x }}", 'undefined variable "$x"'),
    ('{{ define "d" }}{{ $labels }}{{ end }}', 'undefined variable "$labels"'),
    ("{{ if $value }}x", "unexpected EOF: {{if}} needs an {{end}}"),
    ("x {{ end }}", "unexpected {{end}}"),
    ("{{ else }}", "unexpected {{else}}"),
    ("{{ if .X }}a{{ else }}b{{ else }}c{{ end }}", "unexpected {{else}}"),
    ("{{ break }}", "{{break}} outside {{range}}"),
    ("{{ $value | 1 }}", "non executable command in pipeline stage 2"),
    ("{{ $value | 'c' }}", "non executable command in pipeline stage 2"),
    ("{{ $value | }} {{ | $value }}", 'unexpected "|" in command'),
    ("{{ 1.x }}", 'bad number syntax: "1.x"'),
    ("{{ $value# }}", "bad character U+0023"),
    ('{{ "\\q" }}', "bad escape in quoted string"),
    ("{{ 'ab' }}", "malformed character constant"),
    ("{{/* open }}", "unclosed comment"),
    ("{{/* c */ x }}", "comment ends before closing delimiter"),
    ("{{ \u20ac }}", "unrecognized character in action: U+20AC"),
    ("{{ template $value }}", 'unexpected "$value" in template clause'),
    ('{{ if true }}{{ define "d" }}{{ end }}{{ end }}', "unexpected <define> in command"),
    ('{{ "a".b }}', "unexpected . after term"),
]


@pytest.mark.parametrize(("text", "problem"), TEMPLATES_REJECTED)
def test_templates_rejected(text: str, problem: str) -> None:
    found = template_problem(text)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize(("value", "text"), [(5.0, "5"), (0.05, "0.05"), (-1.0, "-1"), (1e-06, "1e-06")])
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(("text", "total"), [("5m", 300), ("1h30m", 5400), ("30d", 2592000), ("0", 0), ("1w", 604800)])
def test_seconds(text: str, total: float) -> None:
    assert seconds(text) == total
