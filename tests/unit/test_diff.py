"""vigil.diff, the pure parts: what counts as a change, how it is shown, what the input holds.

The whole command against a real API server is tests/integration/test_diff.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.helpers import EXAMPLES, INVALID
from vigil.cli import read_documents
from vigil.diff import (
    Change,
    DiffReport,
    comparable,
    object_label,
    sink_index_entry,
    to_yaml,
    unified,
    vigil_documents,
)
from vigil.handlers.sink import index_sink


def live_configmap() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "shop-collector-config",
            "namespace": "team-a",
            "uid": "0b7e",
            "resourceVersion": "812",
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{"manager": "vigil", "operation": "Apply"}],
            "labels": {"app.kubernetes.io/managed-by": "vigil"},
        },
        "data": {"collector.yaml": "receivers:\n  otlp: {}\nexporters:\n  debug: {}\n"},
    }


def test_server_maintained_fields_and_status_are_not_changes() -> None:
    live = live_configmap()
    merged = copy.deepcopy(live)
    merged["metadata"].update(resourceVersion="813", generation=2, managedFields=[], uid="other")
    merged["metadata"]["creationTimestamp"] = "2026-02-02T00:00:00Z"
    merged["status"] = {"observedGeneration": 2}
    assert unified("x", live, merged) == ""


def test_a_changed_line_of_a_config_shows_as_that_line() -> None:
    live = live_configmap()
    merged = copy.deepcopy(live)
    merged["data"]["collector.yaml"] = merged["data"]["collector.yaml"].replace("debug", "otlp_grpc/gw")
    text = unified("v1.ConfigMap.team-a.shop-collector-config", live, merged)
    assert text.splitlines()[:3] == [
        "diff -u -N live/v1.ConfigMap.team-a.shop-collector-config merged/v1.ConfigMap.team-a.shop-collector-config",
        "--- live/v1.ConfigMap.team-a.shop-collector-config",
        "+++ merged/v1.ConfigMap.team-a.shop-collector-config",
    ]
    removed = [ln for ln in text.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln for ln in text.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    # The config is a literal block, so one changed exporter is one changed line.
    assert removed == ["-      debug: {}"]
    assert added == ["+      otlp_grpc/gw: {}"]


def test_a_new_object_is_all_additions_and_a_deleted_one_all_removals() -> None:
    obj = live_configmap()
    created = unified("x", None, obj)
    assert not [ln for ln in created.splitlines()[3:] if not ln.startswith(("+", "@@"))]
    assert "uid" not in created
    assert "resourceVersion" not in created
    deleted = unified("x", obj, None)
    assert not [ln for ln in deleted.splitlines()[3:] if not ln.startswith(("-", "@@"))]


def test_yaml_of_a_diff_reads_back_as_the_object_without_server_fields() -> None:
    obj = live_configmap()
    assert yaml.safe_load(to_yaml(comparable(obj))) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": obj["metadata"]["name"], "namespace": "team-a", "labels": obj["metadata"]["labels"]},
        "data": obj["data"],
    }


def test_comparable_does_not_touch_its_input() -> None:
    obj = live_configmap()
    before = copy.deepcopy(obj)
    comparable(obj)
    assert obj == before


@pytest.mark.parametrize(
    ("api_version", "kind", "label"),
    [
        ("v1", "ConfigMap", "v1.ConfigMap.team-a.x"),
        ("apps/v1", "Deployment", "apps.v1.Deployment.team-a.x"),
        ("vigil.dev/v1alpha1", "MonitoringStack", "vigil.dev.v1alpha1.MonitoringStack.team-a.x"),
    ],
)
def test_labels_name_group_version_kind_namespace_name(api_version: str, kind: str, label: str) -> None:
    assert object_label(
        {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "team-a"}}
    ) == (label)


def test_vigil_documents_are_the_three_kinds_with_a_namespace() -> None:
    docs = vigil_documents(read_documents([str(EXAMPLES)]), "shop")
    assert {d["kind"] for d in docs} == {"TelemetrySink", "MonitoringStack", "AlertPolicy"}
    assert {d["metadata"]["namespace"] for d in docs} == {"shop"}
    assert all(d["kind"] != "Secret" for d in docs)


def test_a_sink_enters_the_selection_as_the_operator_indexes_it() -> None:
    doc = next(d for d in vigil_documents(read_documents([str(EXAMPLES)]), "shop") if d["kind"] == "TelemetrySink")
    live = {**doc, "status": {"usedBy": ["aureus"]}, "metadata": {**doc["metadata"], "uid": "1", "generation": 3}}
    assert sink_index_entry(live) == index_sink(namespace="shop", body=live)["shop"]


@pytest.mark.parametrize(
    ("report", "code"),
    [
        (DiffReport(), 0),
        (DiffReport(notes=["ServiceMonitor left out"]), 0),
        (DiffReport(changes=[Change("x", "diff")]), 1),
        (DiffReport(changes=[Change("x", "diff")], errors=["forbidden"]), 2),
    ],
)
def test_exit_codes_follow_kubectl_diff(report: DiffReport, code: int) -> None:
    assert report.exit_code == code


def test_invalid_input_is_an_error_before_any_request() -> None:
    from vigil.diff import DiffSettings, diff_documents  # noqa: PLC0415

    class NoCluster:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"invalid input must not reach the API server (called {name})")

    report = diff_documents(
        NoCluster(),  # type: ignore[arg-type]
        read_documents([str(INVALID / "two-destinations.yaml")]),
        "default",
        DiffSettings(),
    )
    assert report.exit_code == 2
    assert any("set exactly one destination" in e for e in report.errors)
