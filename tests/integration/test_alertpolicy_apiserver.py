"""A real kube-apiserver judges the AlertPolicy CRD and what Vigil renders from policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.helpers import EXAMPLES, InvalidCase, invalid_cases, render_examples
from tests.tools.test_alerts_promtool import OBJECTS as EVERY_KIND_OBJECTS

POLICIES = EXAMPLES / "40-alert-policies.yaml"
POLICY_CASES = [c for c in invalid_cases() if c.path.name.startswith("policy-")]


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _apply(cp: ControlPlane, namespace: str, *args: str, input: str | None = None) -> Any:
    return cp.kubectl("apply", "--server-side", "-n", namespace, *args, input=input, check=False)


def test_alertpolicy_crd_is_established_with_its_printer_columns(
    control_plane: ControlPlane,
) -> None:
    crd = json.loads(control_plane.kubectl("get", "crd", "alertpolicies.vigil.dev", "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions.get("NonStructuralSchema", "False") == "False"
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Ready", "Kind", "Severity", "Age"]
    assert crd["spec"]["names"]["shortNames"] == ["apol"]


def test_example_policies_are_accepted(control_plane: ControlPlane, namespace: str) -> None:
    result = _apply(control_plane, namespace, "-f", str(POLICIES))
    assert result.returncode == 0, result.stderr
    names = [d["metadata"]["name"] for d in _documents(POLICIES)]
    listed = control_plane.kubectl("get", "apol", "-n", namespace, "-o", "name").stdout.split()
    assert sorted(listed) == sorted(f"alertpolicy.vigil.dev/{n}" for n in names)
    # Defaults the API server applied are the models' defaults.
    stored = json.loads(control_plane.kubectl("get", "apol", "api-availability", "-n", namespace, "-o", "json").stdout)
    assert stored["spec"]["slo"]["pageSeverity"] == "critical"
    assert stored["spec"]["receivers"][0]["sendResolved"] is True
    assert stored["spec"]["routing"]["groupInterval"] == "5m"


@pytest.mark.parametrize("case", [c for c in POLICY_CASES if c.judged_by == "crd"], ids=lambda c: c.id)
def test_crd_rejects_invalid_policy_naming_the_field(
    control_plane: ControlPlane, namespace: str, case: InvalidCase
) -> None:
    result = _apply(control_plane, namespace, "-f", str(case.path))
    assert result.returncode != 0, f"the API server accepted {case.path.name}"
    assert case.expect_path in result.stderr, result.stderr
    assert case.expect_message in result.stderr, result.stderr


@pytest.mark.parametrize("case", [c for c in POLICY_CASES if c.judged_by == "operator"], ids=lambda c: c.id)
def test_promql_and_template_mistakes_pass_the_crd(
    control_plane: ControlPlane, namespace: str, case: InvalidCase
) -> None:
    # Only Vigil parses PromQL and templates; the API server stores any string.
    result = _apply(control_plane, namespace, "-f", str(case.path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"expr": "up == 0", "for": "5m1h"}, "spec.for"),
        (
            {
                "slo": {
                    "objective": 100,
                    "totalQuery": "x[{{window}}]",
                    "errorQuery": "y[{{window}}]",
                }
            },
            "spec.slo.objective",
        ),
        (
            {
                "expr": "up == 0",
                "receivers": [{"name": "p", "pagerduty": {"routingKey": {"name": "s"}}}],
            },
            "spec.receivers[0].pagerduty.routingKey.key",
        ),
        (
            {
                "ratio": {"errors": "e", "total": "t", "comparison": ">", "value": 0.1},
                "severity": "critical",
                "escalation": {"value": 0.5},
            },
            "escalation.severity must be higher than severity",
        ),
    ],
    ids=["duration-order", "objective-100", "secret-without-key", "escalation-not-higher"],
)
def test_crd_rejects_more_shapes(
    control_plane: ControlPlane, namespace: str, spec: dict[str, Any], message: str
) -> None:
    doc = {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "AlertPolicy",
        "metadata": {"name": "x"},
        "spec": spec,
    }
    result = _apply(control_plane, namespace, "-f", "-", input=yaml.safe_dump(doc))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def _dry_run(control_plane: ControlPlane, namespace: str, objects: list[dict[str, Any]]) -> Any:
    placed = [{**o, "metadata": {**o["metadata"], "namespace": namespace}} for o in objects]
    for o in placed:
        o["metadata"].pop("ownerReferences", None)
    return control_plane.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=vigil",
        "-f",
        "-",
        input=yaml.safe_dump_all(placed),
        check=False,
    )


def test_rendered_policy_objects_pass_server_side_apply(control_plane: ControlPlane, namespace: str) -> None:
    objects = [
        o
        for o in render_examples(namespace).objects
        if o["metadata"]["labels"].get("vigil.dev/owner-kind") == "AlertPolicy"
    ]
    assert {o["kind"] for o in objects} == {"PrometheusRule", "AlertmanagerConfig"}
    result = _dry_run(control_plane, namespace, objects)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(objects)


def test_every_alert_kind_renders_objects_the_api_server_accepts(control_plane: ControlPlane, namespace: str) -> None:
    result = _dry_run(control_plane, namespace, EVERY_KIND_OBJECTS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(EVERY_KIND_OBJECTS)


def test_the_api_server_rejects_a_broken_alertmanager_config(control_plane: ControlPlane, namespace: str) -> None:
    config = next(o for o in EVERY_KIND_OBJECTS if o["kind"] == "AlertmanagerConfig")
    broken = {
        **config,
        "spec": {**config["spec"], "route": {**config["spec"]["route"], "groupWait": "soon"}},
    }
    result = _dry_run(control_plane, namespace, [broken])
    assert result.returncode != 0
    assert "groupWait" in result.stderr
