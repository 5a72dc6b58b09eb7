"""``vigil import sloth``: Sloth specs written in Sloth's formats become valid AlertPolicies."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT, deep
from vigil.cli import main, read_documents
from vigil.models.policy import AlertPolicy
from vigil.parse import Parsed, Source, parse_document
from vigil.render.alerts import render_rule_groups
from vigil.sloth import Options, Result, import_documents, parse_severity_map

DATA = ROOT / "tests" / "data" / "sloth"
INVALID = sorted((DATA / "invalid").glob("*.yaml"))
MAPPED = {"pageteam": "critical", "slack": "warning"}


def _import(*names: str, **options: Any) -> Result:
    return import_documents(read_documents([str(DATA / n) for n in names]), Options(**options))


def _policies(*names: str, **options: Any) -> dict[str, dict[str, Any]]:
    result = _import(*names, **options)
    assert result.errors == []
    return {i.policy["metadata"]["name"]: i.policy for i in result.policies}


def test_every_sloth_slo_becomes_one_valid_policy() -> None:
    result = _import("availability.yaml", "routing.yaml", "kubernetes.yaml", severities=MAPPED)
    assert result.errors == []
    assert [i.policy["metadata"]["name"] for i in result.policies] == [
        "myservice-requests-availability",
        "myservice-requests-latency",
        "payments-probe-success",
        "checkout-api-availability",
        "search-requests-availability",
    ]
    for imported in result.policies:
        assert isinstance(parse_document(imported.policy), Parsed), imported.origin
    assert result.policies[0].origin.endswith("availability.yaml:1: slos[0] (requests-availability)")


def test_events_sli_keeps_the_queries_and_sloths_placeholder() -> None:
    policy = _policies("availability.yaml")["myservice-requests-availability"]
    slo = policy["spec"]["slo"]
    assert slo["objective"] == 99.9
    assert slo["window"] == "30d"
    assert slo["errorQuery"] == (
        'sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))'
    )
    assert slo["totalQuery"] == 'sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))'
    assert policy["spec"]["alertName"] == "MyServiceHighErrorRate"
    assert policy["metadata"] == {
        "name": "myservice-requests-availability",
        "annotations": {"vigil.dev/description": "Common SLO based on availability for HTTP request responses."},
    }


def test_labels_of_the_service_slo_and_alerts_are_merged_with_sloths_own() -> None:
    spec = _policies("availability.yaml")["myservice-requests-availability"]["spec"]
    assert spec["labels"] == {
        "owner": "myteam",
        "repo": "myorg/myservice",
        "tier": "2",
        "category": "availability",
        "sloth_id": "myservice-requests-availability",
        "sloth_service": "myservice",
        "sloth_slo": "requests-availability",
    }
    slo = spec["slo"]
    assert (slo["pageSeverity"], slo["ticketSeverity"]) == ("critical", "warning")
    assert slo["pageAlert"] == {"labels": {"routing_key": "myteam", "sloth_severity": "page"}}
    assert slo["ticketAlert"] == {"labels": {"slack_channel": "#alerts-myteam", "sloth_severity": "ticket"}}
    assert spec["annotations"] == {
        "summary": "High error rate on 'myservice' requests responses",
        "runbookUrl": "https://runbooks.example.com/myservice/availability",
    }


def test_sloth_labels_can_be_left_out() -> None:
    spec = _policies("availability.yaml", sloth_labels=False)["myservice-requests-availability"]["spec"]
    assert not any(k.startswith("sloth_") for k in spec["labels"])
    assert "sloth_severity" not in spec["slo"]["pageAlert"]["labels"]


def test_a_disabled_alert_is_disabled_and_not_rendered() -> None:
    policy = _policies("availability.yaml")["myservice-requests-latency"]
    assert policy["spec"]["slo"]["ticketAlert"] == {"disabled": True, "labels": {"sloth_severity": "ticket"}}
    rules = render_rule_groups(AlertPolicy.model_validate(policy))[0]["rules"]
    assert [r["labels"]["severity"] for r in rules if "alert" in r] == ["critical"]


def test_raw_sli_becomes_an_error_ratio_query_and_severities_are_mapped() -> None:
    result = _import("routing.yaml", severities=MAPPED)
    policy = next(i.policy for i in result.policies if i.policy["metadata"]["name"] == "payments-probe-success")
    slo = policy["spec"]["slo"]
    assert slo["errorRatioQuery"] == (
        '1 - avg(avg_over_time(probe_success{job="blackbox",target="payments"}[{{.window}}]))'
    )
    assert "totalQuery" not in slo
    assert (slo["pageSeverity"], slo["ticketSeverity"]) == ("critical", "warning")
    assert slo["pageAlert"]["labels"] == {"routing_key": "payments-oncall", "sloth_severity": "page"}
    assert slo["pageAlert"]["annotations"] == {"summary": "Payments probes burn the error budget fast"}
    assert policy["spec"]["annotations"] == {
        "description": "{{$labels.sloth_service}} probes fail more than the objective allows."
    }
    warnings = [str(w) for w in result.warnings]
    assert any(
        "slos[0].alerting.page_alert.labels.severity" in w
        and 'severity "pageteam" becomes "critical"' in w
        and 'sloth_severity="page"' in w
        for w in warnings
    ), warnings
    assert any("slos[0].alerting.annotations.title: left out" in w for w in warnings), warnings


def test_a_ticket_only_slo_keeps_its_severity() -> None:
    policy = _policies("routing.yaml", severities=MAPPED)["checkout-api-availability"]
    slo = AlertPolicy.model_validate(policy).spec.slo
    assert slo is not None
    assert slo.page_alert.disabled is True
    assert [s for _, s, _ in slo.alerts()] == ["warning"]


def test_kubernetes_objects_are_read_in_camel_case_with_their_namespace() -> None:
    policy = _policies("kubernetes.yaml")["search-requests-availability"]
    assert policy["metadata"]["namespace"] == "search"
    slo = policy["spec"]["slo"]
    assert slo["errorQuery"] == 'sum(rate(http_requests_total{job="search",code=~"5.."}[{{.window}}]))'
    assert policy["spec"]["annotations"] == {"runbookUrl": "https://runbooks.example.com/search"}


def test_namespace_window_and_scrape_interval_options() -> None:
    policy = _policies("availability.yaml", namespace="shop", window="28d", scrape_interval="30s")[
        "myservice-requests-availability"
    ]
    assert policy["metadata"]["namespace"] == "shop"
    assert (policy["spec"]["slo"]["window"], policy["spec"]["slo"]["scrapeInterval"]) == ("28d", "30s")
    assert _policies("kubernetes.yaml", namespace="shop")["search-requests-availability"]["metadata"]["namespace"] == (
        "search"
    )


def test_an_imported_slo_renders_the_rules_of_the_native_one() -> None:
    imported = _policies("availability.yaml")["myservice-requests-availability"]
    native = yaml.safe_load(yaml.safe_dump(imported).replace("{{.window}}", "{{window}}"))
    assert native != imported
    assert render_rule_groups(AlertPolicy.model_validate(imported)) == render_rule_groups(
        AlertPolicy.model_validate(native)
    )


def test_import_does_not_mutate_its_input() -> None:
    docs = read_documents([str(DATA / "routing.yaml")])
    before = deep(docs)
    import_documents(docs, Options(severities=MAPPED))
    assert docs == before


# --- what cannot be imported is an error naming the Sloth field --------------------------------


def _expectation(path: Path) -> tuple[str, str]:
    header = dict(re.findall(r"^# (expect-path|expect-message): (.*)$", path.read_text(), re.M))
    return header["expect-path"], header["expect-message"]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_spec_is_refused_naming_the_field(path: Path) -> None:
    expect_path, expect_message = _expectation(path)
    result = import_documents(read_documents([str(path)]), Options())
    found = [(e.path, e.message) for e in result.errors]
    assert any(p == expect_path and expect_message in m for p, m in found), found


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        ("just text", "", "expected a Sloth spec (a mapping)"),
        ({"version": "prometheus/v2", "service": "x", "slos": []}, "version", 'Unsupported value: "prometheus/v2"'),
        ({"version": "prometheus/v1", "service": "x"}, "slos", "Required value: list at least one SLO"),
        ({"version": "prometheus/v1", "slos": [{}]}, "service", "Required value: set it"),
        (
            {"version": "prometheus/v1", "service": "x", "labels": ["a"], "slos": [{}]},
            "labels",
            "Invalid value: a list: expected a mapping",
        ),
        (
            {"version": "prometheus/v1", "service": "x", "labels": {"bad-name": "v"}, "slos": [{}]},
            "labels.bad-name",
            "a Prometheus label name matches",
        ),
        (
            {"version": "prometheus/v1", "service": "x", "slos": [{"name": "a", "objective": "high", "sli": {}}]},
            "slos[0].objective",
            "expected a percentage such as 99.9",
        ),
        (
            {
                "version": "prometheus/v1",
                "service": "x",
                "slos": [{"name": "a", "objective": 99, "sli": {"events": {}, "raw": {}}}],
            },
            "slos[0].sli",
            "set exactly one of events, raw or plugin",
        ),
        (
            {
                "version": "prometheus/v1",
                "service": "x",
                "slos": [{"name": "a", "objective": 99, "sli": {"events": {"error_query": "sum(x)"}}}],
            },
            "slos[0].sli.events.total_query",
            "Required value: set it",
        ),
        (
            {
                "version": "prometheus/v1",
                "service": "x",
                "slos": [
                    {
                        "name": "a",
                        "objective": 99,
                        "sli": {"raw": {"error_ratio_query": "avg(r[{{.window}}])"}},
                        "alerting": {"page_alert": {"disable": "yes"}},
                    }
                ],
            },
            "slos[0].alerting.page_alert.disable",
            "expected true or false",
        ),
        (
            {"apiVersion": "sloth.slok.dev/v1", "kind": "PrometheusServiceLevel", "metadata": {"name": "x"}},
            "spec",
            "Required value: set it",
        ),
    ],
    ids=[
        "not-a-mapping",
        "other-version",
        "no-slos",
        "no-service",
        "labels-not-a-map",
        "bad-label-name",
        "objective-not-a-number",
        "two-sli-kinds",
        "no-total-query",
        "disable-not-a-bool",
        "crd-without-spec",
    ],
)
def test_malformed_specs_name_the_field(doc: Any, path: str, message: str) -> None:
    result = import_documents([(Source("slos.yaml", 1), doc)], Options())
    found = [(e.path, e.message) for e in result.errors]
    assert any(p == path and message in m for p, m in found), found
    assert result.policies == []


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [([], {}), (["pageteam=critical", "slack=warning"], {"pageteam": "critical", "slack": "warning"})],
)
def test_severity_map(pairs: list[str], expected: dict[str, str]) -> None:
    assert parse_severity_map(pairs) == expected


@pytest.mark.parametrize("pair", ["pageteam", "=critical", "pageteam=page", "pageteam:critical"])
def test_severity_map_refuses_malformed_pairs(pair: str) -> None:
    with pytest.raises(ValueError, match=f"--severity {re.escape(pair)}: expected SLOTH_VALUE=SEVERITY"):
        parse_severity_map([pair])


# --- the command --------------------------------------------------------------------------------


def test_command_prints_policies_that_vigil_validate_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["import", "sloth", str(DATA), "--severity", "pageteam=critical", "--severity", "slack=warning", "-n", "slo"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "# Imported from Sloth: " in out
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert len(docs) == 5
    assert {d["metadata"]["namespace"] for d in docs} == {"slo", "search"}
    assert "warning: " in err
    assert "error: " not in err
    (tmp_path / "policies.yaml").write_text(out)
    assert main(["validate", str(tmp_path / "policies.yaml")]) == 0


def test_command_fails_naming_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import", "sloth", str(DATA / "routing.yaml")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert (
        'routing.yaml:1: slos[0].alerting.page_alert.labels.severity: "pageteam" is not a Vigil severity '
        "(critical, warning, info): map it, e.g. --severity pageteam=critical"
    ) in err


def test_command_refuses_a_bad_severity_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "sloth", str(DATA), "--severity", "page"]) == 2
    assert "--severity page: expected SLOTH_VALUE=SEVERITY" in capsys.readouterr().err
