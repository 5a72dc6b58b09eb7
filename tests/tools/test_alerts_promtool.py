"""What AlertPolicies render, judged by the real tools: promtool, amtool, the CRD schemas."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.harness.schemas import validate_against_crd
from tests.harness.tools import run_tool
from tests.helpers import render_examples
from vigil.models.policy import AlertPolicy
from vigil.render.alerts import render_alertmanager_yaml, render_policy, render_rule_groups
from vigil.render.context import RenderContext

SECRET = {"name": "alerts", "key": "token"}
ERRORS = 'sum(rate(http_requests_total{code="500"}[{{window}}]))'
TOTAL = "sum(rate(http_requests_total[{{window}}]))"
SLO = {"objective": 99.9, "window": "30d", "errorQuery": ERRORS, "totalQuery": TOTAL}
RECEIVERS = [
    {"name": "chat", "severities": ["warning"], "slack": {"channel": "#a", "apiURL": SECRET}},
    {"name": "pager", "severities": ["critical"], "pagerduty": {"routingKey": SECRET}},
    {
        "name": "mail",
        "email": {
            "to": ["ops@company.com"],
            "from": "am@company.com",
            "smarthost": "smtp.company.com:587",
            "authUsername": "am",
            "authPassword": SECRET,
        },
    },
    {"name": "hook", "webhook": {"url": "http://bot.ops.svc:8080/alerts", "maxAlerts": 10}},
]
CASES: dict[str, dict[str, Any]] = {
    "threshold-escalated": {
        "threshold": {
            "expr": "histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))",
            "comparison": ">",
            "value": 1,
        },
        "escalation": {"value": 2, "for": "1m"},
        "for": "5m",
        "keepFiringFor": "2m",
        "receivers": RECEIVERS,
        "annotations": {
            "summary": "p95 {{ $value | humanizeDuration }}",
            "runbookUrl": "https://r/x",
        },
    },
    "ratio-selectors": {
        "ratio": {
            "errors": 'tasks_total{success="false"}',
            "total": "tasks_total",
            "by": ["namespace", "job"],
            "comparison": ">",
            "value": 0.05,
        },
        "escalation": {"value": 0.1},
        "receivers": RECEIVERS,
        "routing": {"groupBy": ["alertname", "job"], "repeatInterval": "1h"},
    },
    "ratio-queries-below": {
        "ratio": {
            "errors": "sum(rate(ok_total[{{window}}]))",
            "total": "sum(rate(all_total[{{window}}]))",
            "comparison": "<",
            "value": 0.99,
        },
        "labels": {"team": "{{ $labels.job }}"},
    },
    "expr": {"expr": "up == 0", "severity": "critical", "receivers": RECEIVERS[1:2]},
    "slo-30d": {"slo": SLO, "receivers": RECEIVERS},
    "slo-28d-good": {
        "slo": {
            "objective": 99.5,
            "window": "28d",
            "goodQuery": TOTAL.replace("http", "ok"),
            "totalQuery": TOTAL,
        }
    },
    "slo-7d": {"slo": {**SLO, "window": "7d", "objective": 95}},
    "slo-1d-sloth-placeholder": {
        "slo": {
            **SLO,
            "window": "1d",
            "errorQuery": ERRORS.replace("{{window}}", "{{.window}}"),
            "totalQuery": TOTAL.replace("{{window}}", "{{ .window }}"),
        }
    },
    "slo-error-ratio-query": {
        "slo": {
            "objective": 99.5,
            "window": "28d",
            "scrapeInterval": "30s",
            "errorRatioQuery": "1 - avg(avg_over_time(probe_success[{{window}}]))",
        }
    },
    "slo-alerts-of-their-own": {
        "slo": {
            **SLO,
            "pageAlert": {"labels": {"routing_key": "oncall"}, "annotations": {"summary": "fast burn"}},
            "ticketAlert": {"disabled": True},
        },
        "labels": {"team": "payments"},
        "receivers": RECEIVERS[1:2],
    },
    "slo-recording-only": {"slo": {**SLO, "pageAlert": {"disabled": True}, "ticketAlert": {"disabled": True}}},
}


def policy(name: str, spec: dict[str, Any]) -> AlertPolicy:
    return AlertPolicy.model_validate(
        {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "AlertPolicy",
            "metadata": {"name": name, "namespace": "team-a"},
            "spec": spec,
        }
    )


POLICIES = {name: policy(name, spec) for name, spec in CASES.items()}
EXAMPLES = {m.metadata.name: m for m in render_examples().models if isinstance(m, AlertPolicy)}
EVERY = {**{f"example-{k}": v for k, v in EXAMPLES.items()}, **POLICIES}


def write_rules(path: Path, model: AlertPolicy) -> Path:
    """The PrometheusRule's spec as a Prometheus rule file."""
    rule = render_policy(model, RenderContext())[0]
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


# --- promtool check rules ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EVERY))
def test_generated_rules_pass_promtool_check(tmp_path: Path, name: str) -> None:
    rules = write_rules(tmp_path / "rules.yaml", EVERY[name])
    result = run_tool("promtool", "check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(g["rules"]) for g in render_rule_groups(EVERY[name]))
    assert f"SUCCESS: {count} rules found" in result.stdout


def test_examples_cover_every_alert_kind() -> None:
    assert sorted(p.spec.alert_kind for p in EXAMPLES.values()) == [
        "expr",
        "ratio",
        "slo",
        "threshold",
    ]


# --- promtool test rules: the burn-rate alerts fire when the workbook says ----------------------

ALERT = "BurnTest"
PAGE = f'ALERTS{{alertname="{ALERT}", alertstate="firing", severity="critical"}}'
PAGE_LABELS = (
    f'ALERTS{{alertname="{ALERT}", alertstate="firing", severity="critical", '
    'namespace="team-a", vigil_policy="team-a/burn"}'
)


def _promtool_test(
    tmp_path: Path,
    slo: dict[str, Any],
    series: dict[str, str],
    checks: list[dict[str, Any]],
    interval: str = "1m",
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` of an SLO policy's rules on ``series`` (name -> values)."""
    model = policy("burn", {"slo": slo, "alertName": ALERT})
    write_rules(tmp_path / "slo.yaml", model)
    tests = {
        "rule_files": ["slo.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": interval,
                "input_series": [{"series": name, "values": values} for name, values in series.items()],
                "promql_expr_test": checks,
            }
        ],
    }
    (tmp_path / "slo_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    return run_tool("promtool", "test", "rules", "slo_test.yaml", cwd=tmp_path)


def _slo_test(tmp_path: Path, errors: str, ok: str, checks: list[dict[str, Any]]) -> None:
    series = {'http_requests_total{code="500"}': errors, 'http_requests_total{code="200"}': ok}
    result = _promtool_test(tmp_path, SLO, series, checks)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_15x_burn_pages_after_the_workbooks_detection_time(tmp_path: Path) -> None:
    # 6h healthy (every page window sees real history), then 1.5 % of requests fail: 15x the
    # 0.1 % budget. The 1h window crosses 14.4x after 14.4/15 h = 57.6 min, the 5m one at once.
    _slo_test(
        tmp_path,
        errors="0x360 15+15x119",
        ok="0+1000x360 360985+985x119",
        checks=[
            {"expr": PAGE, "eval_time": "360m", "exp_samples": []},
            {"expr": PAGE, "eval_time": "415m", "exp_samples": []},
            {
                "expr": PAGE,
                "eval_time": "422m",
                "exp_samples": [{"labels": PAGE_LABELS, "value": 1}],
            },
            {
                "expr": 'vigil:slo_errors:ratio_rate5m{vigil_policy="team-a/burn"}',
                "eval_time": "422m",
                "exp_samples": [
                    {
                        "labels": 'vigil:slo_errors:ratio_rate5m{vigil_policy="team-a/burn"}',
                        "value": 0.015,
                    }
                ],
            },
        ],
    )


def test_a_1x_burn_never_pages(tmp_path: Path) -> None:
    # 0.1 % of requests fail for 8 hours: exactly the budget, which lasts the whole period.
    _slo_test(
        tmp_path,
        errors="0+1x480",
        ok="0+999x480",
        checks=[{"expr": PAGE, "eval_time": f"{h}h", "exp_samples": []} for h in (1, 2, 4, 6, 8)],
    )


def test_a_7x_burn_pages_through_the_6h_window(tmp_path: Path) -> None:
    # 6h healthy, then 7x the budget: too slow for the 1h pair (14.4x); the 6h pair crosses
    # 6x after 6/7 * 6h = 308.6 min.
    _slo_test(
        tmp_path,
        errors="0x360 7+7x359",
        ok="0+1000x360 360993+993x359",
        checks=[
            {"expr": PAGE, "eval_time": "420m", "exp_samples": []},
            {"expr": PAGE, "eval_time": "660m", "exp_samples": []},
            {
                "expr": PAGE,
                "eval_time": "675m",
                "exp_samples": [{"labels": PAGE_LABELS, "value": 1}],
            },
        ],
    )


# --- short SLO periods and missing series -----------------------------------------------------

SCRAPE_OFFSET_STEP = "20s"


def _scraped_every_minute(values: list[int]) -> str:
    """Promtool values of a series scraped once a minute, 20s after each rule evaluation.

    The input interval is 20s and two of every three points are missing (``_``), as for a real
    target whose scrapes do not line up with the rule evaluations.
    """
    return " ".join(["_", *(f"{v} _ _" for v in values)])


def _outage(healthy_min: int, outage_min: int, per_minute: int = 1000) -> dict[str, str]:
    """Requests counted every minute: all succeed, then every one fails."""
    ok = [per_minute * min(m, healthy_min) for m in range(healthy_min + outage_min)]
    errors = [per_minute * max(0, m - healthy_min) for m in range(healthy_min + outage_min)]
    return {
        'http_requests_total{code="500"}': _scraped_every_minute(errors),
        'http_requests_total{code="200"}': _scraped_every_minute(ok),
    }


SLO_1D = {**SLO, "window": "1d"}


def test_a_total_outage_pages_a_1_day_slo(tmp_path: Path) -> None:
    # 2h healthy, then every request fails. The scaled 14.4x pair would be 2m/1m, but a 1m
    # range holds one sample of a 1m scrape: the windows are 4m (4 scrape intervals) instead.
    checks = [
        {"expr": PAGE, "eval_time": "119m", "exp_samples": []},
        *(
            {"expr": PAGE, "eval_time": f"{m}m", "exp_samples": [{"labels": PAGE_LABELS, "value": 1}]}
            for m in (123, 130, 150, 175)
        ),
        {
            "expr": 'vigil:slo_errors:ratio_rate4m{vigil_policy="team-a/burn"}',
            "eval_time": "150m",
            "exp_samples": [{"labels": 'vigil:slo_errors:ratio_rate4m{vigil_policy="team-a/burn"}', "value": 1}],
        },
    ]
    result = _promtool_test(tmp_path, SLO_1D, _outage(120, 60), checks, interval=SCRAPE_OFFSET_STEP)
    assert result.returncode == 0, result.stdout + result.stderr


def test_windows_of_one_scrape_interval_never_page(tmp_path: Path) -> None:
    # The same outage, with windows allowed down to 1m (scrapeInterval 15s while the target is
    # scraped every minute): the short windows never hold two samples, so nothing pages. This
    # is what a 1-day SLO did before windows had a floor of 4 scrape intervals.
    slo = {**SLO_1D, "scrapeInterval": "15s"}
    checks = [{"expr": PAGE, "eval_time": f"{m}m", "exp_samples": []} for m in (123, 130, 150, 175)]
    checks.append(
        {"expr": 'vigil:slo_errors:ratio_rate1m{vigil_policy="team-a/burn"}', "eval_time": "150m", "exp_samples": []}
    )
    result = _promtool_test(tmp_path, slo, _outage(120, 60), checks, interval=SCRAPE_OFFSET_STEP)
    assert result.returncode == 0, result.stdout + result.stderr


def _recorded(name: str, value: float, eval_time: str = "1h") -> dict[str, Any]:
    labels = f'{name}{{vigil_policy="team-a/burn"}}'
    return {"expr": labels, "eval_time": eval_time, "exp_samples": [{"labels": labels, "value": value}]}


def test_a_missing_error_series_records_zero(tmp_path: Path) -> None:
    # The service has never failed: no series matches errorQuery. The ratios are 0 and the
    # whole budget is left, instead of no series at all (which panels show as "No data").
    checks = [
        _recorded("vigil:slo_errors:ratio_rate5m", 0),
        _recorded("vigil:slo_errors:ratio_rate1h", 0),
        _recorded("vigil:slo_errors:ratio_rate30d", 0),
        _recorded("vigil:slo_error_budget_remaining:ratio", 1),
        {"expr": PAGE, "eval_time": "1h", "exp_samples": []},
    ]
    series = {'http_requests_total{code="200"}': "0+1000x90"}
    result = _promtool_test(tmp_path, SLO, series, checks)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_good_series_records_a_total_outage(tmp_path: Path) -> None:
    # goodQuery's series never existed: every request failed. The ratio is 1 and it pages.
    slo = {"objective": 99.9, "goodQuery": TOTAL.replace("http", "ok"), "totalQuery": TOTAL}
    checks = [
        _recorded("vigil:slo_errors:ratio_rate5m", 1),
        {"expr": PAGE, "eval_time": "1h", "exp_samples": [{"labels": PAGE_LABELS, "value": 1}]},
    ]
    series = {'http_requests_total{code="500"}': "0+1000x90"}
    result = _promtool_test(tmp_path, slo, series, checks)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_traffic_records_nothing_instead_of_nan(tmp_path: Path) -> None:
    # 0 / 0 would be NaN, and one NaN sample turns the period's average into NaN for 30 days.
    checks = [
        {"expr": 'vigil:slo_errors:ratio_rate5m{vigil_policy="team-a/burn"}', "eval_time": "90m", "exp_samples": []},
        _recorded("vigil:slo_errors:ratio_rate30d", 0.01, eval_time="90m"),
    ]
    series = {
        'http_requests_total{code="500"}': "0+10x30 300x60",
        'http_requests_total{code="200"}': "0+990x30 29700x60",
    }
    result = _promtool_test(tmp_path, SLO, series, checks)
    assert result.returncode == 0, result.stdout + result.stderr


# --- amtool -----------------------------------------------------------------------------------


def _check_config(tmp_path: Path, policies: list[AlertPolicy]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(render_alertmanager_yaml(policies), sort_keys=False))
    return run_tool("amtool", "check-config", str(path))


@pytest.mark.parametrize("name", sorted(EVERY))
def test_rendered_alertmanager_yaml_passes_amtool(tmp_path: Path, name: str) -> None:
    result = _check_config(tmp_path, [EVERY[name]])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alertmanager_yaml_of_all_examples_passes_amtool(tmp_path: Path) -> None:
    result = _check_config(tmp_path, list(EXAMPLES.values()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "- 2 inhibit rules" in result.stdout


def _amtool_version() -> tuple[int, ...]:
    out = run_tool("amtool", "--version")
    found = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
    assert found is not None, out.stdout + out.stderr
    return (int(found[1]), int(found[2]))


def test_webhook_url_from_a_secret_passes_amtool(tmp_path: Path) -> None:
    if _amtool_version() < (0, 26):
        pytest.skip("webhook url_file needs Alertmanager 0.26; the installed amtool is older")
    hook = {"name": "hook", "webhook": {"urlSecret": SECRET}}
    result = _check_config(tmp_path, [policy("secret-hook", {"expr": "up == 0", "receivers": [hook]})])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (
            ["vigil_policy=team-a/ratio-selectors", "severity=critical"],
            [
                "team-a/ratio-selectors/pager",
                "team-a/ratio-selectors/mail",
                "team-a/ratio-selectors/hook",
            ],
        ),
        (
            ["vigil_policy=team-a/ratio-selectors", "severity=warning"],
            [
                "team-a/ratio-selectors/chat",
                "team-a/ratio-selectors/mail",
                "team-a/ratio-selectors/hook",
            ],
        ),
        (["vigil_policy=team-a/expr", "severity=critical"], ["team-a/expr/pager"]),
        (["vigil_policy=team-a/slo-7d", "severity=critical"], ["vigil_none"]),
        (["vigil_policy=team-b/ratio-selectors", "severity=critical"], ["vigil_none"]),
    ],
    ids=["critical-pages", "warning-chats", "other-policy", "no-receivers", "other-namespace"],
)
def test_amtool_routes_each_alert_to_its_receivers(tmp_path: Path, labels: list[str], receivers: list[str]) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(render_alertmanager_yaml(list(POLICIES.values()))))
    result = run_tool("amtool", "config", "routes", "test", f"--config.file={path}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [",".join(receivers)]


# --- the prometheus-operator CRD schemas --------------------------------------------------------


OBJECTS = [o for p in EVERY.values() for o in render_policy(p, RenderContext(uid="u"))]


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_objects_match_the_prometheus_operator_schema(obj: dict[str, Any]) -> None:
    validate_against_crd(obj)


def test_schema_check_can_fail() -> None:
    config = next(o for o in OBJECTS if o["kind"] == "AlertmanagerConfig")
    typo = {
        **config,
        "spec": {**config["spec"], "route": {**config["spec"]["route"], "groupby": ["x"]}},
    }
    with pytest.raises(jsonschema.ValidationError):
        validate_against_crd(typo)
    rule = next(o for o in OBJECTS if o["kind"] == "PrometheusRule")
    bad_for = {
        **rule,
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "x", "for": "soon"}]}]},
    }
    with pytest.raises(jsonschema.ValidationError):
        validate_against_crd(bad_for)
