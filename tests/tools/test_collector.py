"""The real collector (otelcol-vigil, built by `make tools`) accepts every config Vigil renders."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from tests.harness import collector
from tests.harness.tools import require
from tests.helpers import ROOT, example_documents, render_examples
from vigil.render import components
from vigil.render.components import COLLECTOR_VERSION

MANIFEST = ROOT / "tools" / "otelcol" / "manifest.yaml"
CONFIGS = {
    o["metadata"]["labels"]["app.kubernetes.io/instance"]: o["data"]["collector.yaml"]
    for o in render_examples().objects
    if o["kind"] == "ConfigMap" and "collector.yaml" in o.get("data", {})
}


@pytest.fixture(scope="module")
def otelcol() -> None:
    require("otelcol-vigil")


def deployment_env(stack: str) -> dict[str, str]:
    """The collector's environment as the Deployment would give it, Secrets from examples/."""
    secrets = {
        (d["metadata"]["name"], k): v
        for d in example_documents()
        if d["kind"] == "Secret"
        for k, v in d.get("stringData", {}).items()
    }
    deployment = next(
        o
        for o in render_examples().objects
        if o["kind"] == "Deployment" and o["metadata"]["labels"]["app.kubernetes.io/instance"] == stack
    )
    env: dict[str, str] = {}
    for item in deployment["spec"]["template"]["spec"]["containers"][0].get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "fieldRef" in item["valueFrom"]:
            assert item["valueFrom"]["fieldRef"] == {"fieldPath": "metadata.name"}
            env[item["name"]] = f"{stack}-collector-0"
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[(ref["name"], ref["key"])]
    return env


@pytest.mark.parametrize("stack", sorted(CONFIGS))
def test_every_example_config_validates(otelcol: None, stack: str) -> None:
    result = collector.validate(CONFIGS[stack], deployment_env(stack))
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_rejects_a_broken_config_with_the_collectors_message(otelcol: None) -> None:
    config: dict[str, Any] = yaml.safe_load(CONFIGS["aureus"])
    config["exporters"]["otlp_http/aureus-otlp"]["compresion"] = "gzip"
    result = collector.validate(yaml.safe_dump(config), deployment_env("aureus"))
    assert result.returncode != 0
    assert "compresion" in result.stderr + result.stdout


def test_missing_secret_env_is_caught(otelcol: None) -> None:
    # otelcol-vigil's env provider refuses an unset variable (upstream's would pass "").
    result = collector.validate(CONFIGS["events"], {})
    assert result.returncode != 0
    assert 'environment variable "VIGIL_EVENTS_KAFKA_SASL_' in result.stderr + result.stdout
    assert "is not set" in result.stderr + result.stdout


def _listed() -> dict[str, Any]:
    out = subprocess.run([str(collector.binary()), "components"], capture_output=True, text=True, check=True).stdout
    listed: dict[str, Any] = yaml.safe_load(out)
    return listed


def test_the_binary_has_exactly_the_components_vigil_emits(otelcol: None) -> None:
    listed = _listed()
    built = {kind: {c["name"] for c in listed.get(kind) or []} for kind in components.ALL_TYPES}
    assert built == components.ALL_TYPES
    assert listed["buildinfo"]["version"] == COLLECTOR_VERSION


def test_the_binary_is_built_from_exactly_the_manifests_modules(otelcol: None) -> None:
    listed = _listed()
    manifest = yaml.safe_load(MANIFEST.read_text())
    for kind in components.ALL_TYPES:
        built = {c["module"] for c in listed.get(kind) or []}
        assert built == {entry["gomod"] for entry in manifest.get(kind) or []}, kind
