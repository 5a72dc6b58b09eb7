"""What AlertPolicies render, judged by the real tools: promtool, amtool, the CRD schemas."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.harness.tools import require
from tests.helpers import render_examples
from tests.tools.test_schemas import validate_against_crd
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


def run(tool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a real tool (promtool, amtool) and capture its output."""
    return subprocess.run(
        [str(require(tool)), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def write_rules(path: Path, model: AlertPolicy) -> Path:
    """The PrometheusRule's spec as a Prometheus rule file."""
    rule = render_policy(model, RenderContext())[0]
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


# --- promtool check rules ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EVERY))
def test_generated_rules_pass_promtool_check(tmp_path: Path, name: str) -> None:
    rules = write_rules(tmp_path / "rules.yaml", EVERY[name])
    result = run("promtool", "check", "rules", str(rules))
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


def _slo_test(tmp_path: Path, errors: str, ok: str, checks: list[dict[str, Any]]) -> None:
    model = policy("burn", {"slo": SLO, "alertName": ALERT})
    write_rules(tmp_path / "slo.yaml", model)
    tests = {
        "rule_files": ["slo.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'http_requests_total{code="500"}', "values": errors},
                    {"series": 'http_requests_total{code="200"}', "values": ok},
                ],
                "promql_expr_test": checks,
            }
        ],
    }
    (tmp_path / "slo_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = run("promtool", "test", "rules", "slo_test.yaml", cwd=tmp_path)
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


# --- amtool -----------------------------------------------------------------------------------


def _check_config(tmp_path: Path, policies: list[AlertPolicy]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(render_alertmanager_yaml(policies), sort_keys=False))
    return run("amtool", "check-config", str(path))


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
    out = run("amtool", "--version")
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
    result = run("amtool", "config", "routes", "test", f"--config.file={path}", *labels)
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
