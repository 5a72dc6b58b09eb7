"""Scoped rule bundles judged by the real promtool: each bundle's own unit tests still pass once
scoped to a namespace (with the expectations of that namespace only), and one stack's rules
never fire on another namespace's series."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.tools.test_rules import RULES, promtool
from vigil import api
from vigil.models.bundles import RuleBundleSelection
from vigil.render import meta
from vigil.render.bundles import bundle_groups, bundle_index, recorded_metrics, render_rule_bundles
from vigil.render.promql import Printer, parse

STACK = "bundles"


def _input_namespaces(tests: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for case in tests["tests"]:
        for series in case.get("input_series", []):
            tree = parse(series["series"])
            assert isinstance(tree, promql_parser.VectorSelector)
            found |= {m.value for m in tree.matchers.matchers if m.name == "namespace"}
    return found


CASES = [
    (bundle, namespace)
    for bundle in sorted(bundle_index())
    for namespace in sorted(_input_namespaces(yaml.safe_load((RULES / "tests" / f"{bundle}_test.yaml").read_text())))
]


def _owner(namespace: str, name: str = STACK) -> meta.Owner:
    return meta.Owner(kind="MonitoringStack", name=name, namespace=namespace)


def write_scoped_rules(
    path: Path, namespace: str, bundle: str, name: str = STACK, **selection: Any
) -> list[dict[str, Any]]:
    """The stack's PrometheusRule for ``bundle`` as a rule file at ``path``; its groups."""
    chosen = [RuleBundleSelection.model_validate({"name": bundle, **selection})]
    (rule,) = render_rule_bundles(_owner(namespace, name), chosen, {}, cluster_rule_namespaces={namespace})
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return list(rule["spec"]["groups"])


def _uses_absent(bundle: str) -> set[str]:
    names: set[str] = set()
    for group in bundle_groups(bundle):
        for rule in group["rules"]:
            calls: list[str] = []
            promql_parser.walk(
                parse(str(rule["expr"])),
                lambda n, calls=calls: calls.append(n.func.name) if isinstance(n, promql_parser.Call) else None,
            )
            if "alert" in rule and "absent" in calls:
                names.add(str(rule["alert"]))
    return names


def _selected_names(expr: str) -> set[str]:
    names: set[str] = set()
    promql_parser.walk(
        parse(expr),
        lambda n: names.add(n.name) if isinstance(n, promql_parser.VectorSelector) and n.name else None,
    )
    return names


def scoped_expectations(tests: dict[str, Any], bundle: str, namespace: str, rule_file: str) -> dict[str, Any]:
    """The bundle's promtool tests, expecting only what the stack in ``namespace`` sees and adds.

    Scoped, a recording or an alert of another namespace (or of none) does not exist; the ones of
    ``namespace`` carry ``vigil_stack`` (and alerts ``namespace``) as well. absent() asks whether
    a series is missing in the stack's namespace instead of everywhere, which is a different
    question: those alerts are left to test_absent_is_asked_per_namespace.
    """
    stack_id = f"{namespace}/{STACK}"
    recorded = recorded_metrics([bundle])
    skip = _uses_absent(bundle)
    out = copy.deepcopy(tests)
    out["rule_files"] = [rule_file]

    def own(labels: dict[str, str]) -> bool:
        return labels.get("namespace") == namespace

    def sample(text: str) -> str | None:
        tree = parse(text)
        assert isinstance(tree, promql_parser.VectorSelector)
        if not own({m.name: m.value for m in tree.matchers.matchers}):
            return None
        return Printer(lambda _: [(api.STACK_LABEL, stack_id)]).expr(tree)

    for case in out["tests"]:
        for check in case.get("promql_expr_test", []):
            read = _selected_names(check["expr"])
            # ALERTS carries the alert's labels: the stack's, once scoped.
            assert read, f"{bundle}: promql_expr_test of {check['expr']} reads no series"
            assert read <= recorded | {"ALERTS"}, f"{bundle}: promql_expr_test of {check['expr']} reads no recording"
            kept = [(s, sample(s["labels"])) for s in check.get("exp_samples", [])]
            check["exp_samples"] = [{**s, "labels": text} for s, text in kept if text is not None]
        case["alert_rule_test"] = [a for a in case.get("alert_rule_test", []) if a["alertname"] not in skip]
        for check in case["alert_rule_test"]:
            check["exp_alerts"] = [
                {**a, "exp_labels": {**a["exp_labels"], api.STACK_LABEL: stack_id}}
                for a in check.get("exp_alerts", [])
                if own(a["exp_labels"])
            ]
    return out


@pytest.mark.parametrize(("bundle", "namespace"), CASES, ids=[f"{b}-{n}" for b, n in CASES])
def test_scoped_bundle_passes_its_own_tests_for_its_namespace(bundle: str, namespace: str, tmp_path: Path) -> None:
    tests = yaml.safe_load((RULES / "tests" / f"{bundle}_test.yaml").read_text())
    write_scoped_rules(tmp_path / "scoped.yaml", namespace, bundle)
    check = promtool("check", "rules", str(tmp_path / "scoped.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr
    scoped = scoped_expectations(tests, bundle, namespace, "scoped.yaml")
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(scoped, sort_keys=False, width=1000))
    result = promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_bundle_is_checked_in_a_namespace_of_its_tests() -> None:
    assert {b for b, _ in CASES} == set(bundle_index())
    # collector's and vigil-operator's tests hold two namespaces: both are checked.
    assert ("collector", "db") in CASES
    assert ("collector", "observability") in CASES


# --- one namespace's rules never fire on another's series ----------------------------------------

TEAMS = {"team-a": 0.5, "team-b": 0.01}
# Both teams complete 100 tasks a minute of which 10 fail: a failure ratio of 0.1.
TASK_SERIES = [
    {
        "series": f'aureus_tasks_completed_total{{namespace="{ns}", job="aureus-kernel", success="{ok}"}}',
        "values": f"0+{per_minute}x30",
    }
    for ns in TEAMS
    for ok, per_minute in (("true", 90), ("false", 10))
]


def _two_teams(tmp_path: Path, scope: str) -> list[str]:
    """Each team's aureus stack as a rule file: with its threshold, or (scope cluster) reading every
    namespace with the default 0.05, which is what every stack did before bundles were scoped."""
    files = []
    for team, threshold in TEAMS.items():
        file = f"{team}.yaml"
        if scope == "cluster":
            write_scoped_rules(tmp_path / file, team, "aureus", name="aureus", scope="cluster")
        else:
            write_scoped_rules(
                tmp_path / file, team, "aureus", name="aureus", thresholds={"taskFailureRatio": threshold}
            )
        files.append(file)
    return files


def _failure_rate_test(files: list[str], exp_alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rule_files": files,
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": TASK_SERIES,
                "alert_rule_test": [{"eval_time": "15m", "alertname": "HighTaskFailureRate", "exp_alerts": exp_alerts}],
            }
        ],
    }


RUNBOOKS = "https://github.com/vigil-dev/vigil/blob/main/docs/runbooks"


def _alert(team: str) -> dict[str, Any]:
    return {
        "exp_labels": {
            "severity": "warning",
            "namespace": team,
            "job": "aureus-kernel",
            "vigil_stack": f"{team}/aureus",
        },
        "exp_annotations": {
            "summary": f"High Aureus task failure rate in {team}/aureus-kernel",
            "description": "10% of the Aureus tasks completed by aureus-kernel in namespace "
            f"{team} failed over the last 5 minutes; the task success rate is below its target.",
            "runbook_url": f"{RUNBOOKS}/HighTaskFailureRate.md",
        },
    }


def test_team_a_rule_does_not_fire_on_team_b_series(tmp_path: Path) -> None:
    files = _two_teams(tmp_path, "namespace")
    # team-b's threshold (0.01) is crossed, team-a's (0.5) is not: one alert, team-b's own.
    test = _failure_rate_test(files, [_alert("team-b")])
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unscoped_rules_would_have_crossed_namespaces(tmp_path: Path) -> None:
    # The same check against cluster-wide rules (default thresholds, 0.05) fails: each team's
    # rule reads both teams' series, so team-a's stack alerts about team-b and the reverse.
    files = _two_teams(tmp_path, "cluster")
    test = _failure_rate_test(files, [_alert("team-b")])
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert 'vigil_stack="team-a/aureus"' in result.stdout + result.stderr


# --- absent() asks about the stack's namespace ----------------------------------------------------

OPERATOR_UP = 'up{namespace="vigil-system", job="vigil-operator", instance="10.0.3.2:8080"}'
OPERATOR_ELSEWHERE = 'up{namespace="other", job="vigil-operator", instance="10.0.9.9:8080"}'


DOWN = {
    "summary": "The Vigil operator is down",
    "description": "No Vigil operator target has been scraped for more than 5 minutes. "
    "Vigil objects are not being reconciled.",
    "runbook_url": f"{RUNBOOKS}/VigilOperatorDown.md",
}


@pytest.mark.parametrize(
    ("series", "fires"),
    [
        ([(OPERATOR_UP, "1x30")], False),
        ([(OPERATOR_UP, "1x30"), (OPERATOR_ELSEWHERE, "0x30")], False),
        ([(OPERATOR_ELSEWHERE, "1x30")], True),
    ],
    ids=["up-here", "down-elsewhere", "only-elsewhere"],
)
def test_absent_is_asked_per_namespace(tmp_path: Path, series: list[tuple[str, str]], fires: bool) -> None:
    write_scoped_rules(tmp_path / "rules.yaml", "vigil-system", "vigil-operator")
    labels = {"severity": "critical", "namespace": "vigil-system", "vigil_stack": f"vigil-system/{STACK}"}
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "VigilOperatorDown",
                        "exp_alerts": [{"exp_labels": labels, "exp_annotations": DOWN}] if fires else [],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
