"""examples/ is valid; every examples/invalid/ file is rejected with the message it declares."""

from __future__ import annotations

import pytest

from tests.helpers import InvalidCase, example_documents, invalid_cases, render_examples
from vigil.offline import process
from vigil.parse import Source


def test_examples_are_valid_and_render() -> None:
    result = render_examples()
    assert result.problems == []
    kinds = sorted({o["kind"] for o in result.objects})
    assert kinds == [
        "AlertmanagerConfig",
        "ConfigMap",
        "Deployment",
        "GrafanaDashboard",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ]


def test_examples_every_sink_renders() -> None:
    types = {row[1] for row in render_examples().rows}
    assert types == {"TelemetrySink", "MonitoringStack", "AlertPolicy"}
    # Each destination has an example (tests/unit/destinations/test_registry.py); all of them render.
    rendered = {row[2] for row in render_examples().rows if row[1] == "TelemetrySink"}
    assert {d["metadata"]["name"] for d in example_documents() if d["kind"] == "TelemetrySink"} == rendered


@pytest.mark.parametrize("case", invalid_cases(), ids=lambda c: c.id)
def test_invalid_example_is_rejected_with_its_message(case: InvalidCase) -> None:
    docs = [(Source(str(case.path), i), d) for i, d in enumerate(case.documents(), start=1)]
    result = process(docs, "default")
    assert result.objects == [] or case.judged_by == "operator"
    messages = [(p.path, p.message) for p in result.problems]
    assert any(p == case.expect_path and case.expect_message in m for p, m in messages), messages


def test_invalid_examples_declare_who_judges() -> None:
    cases = invalid_cases()
    assert len(cases) >= 15
    assert {c.judged_by for c in cases} == {"crd", "operator"}
