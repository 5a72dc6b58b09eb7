"""The real collector (otelcol-vigil, built by `make tools`) accepts every config Vigil renders."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from tests.harness import collector
from tests.harness.tools import require
from tests.helpers import ROOT, example_documents, hostile_cases, render_examples
from vigil.offline import process
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


# --- hostile strings reach the real collector as text ------------------------------------------

SAFE = [c for c in hostile_cases() if c.judged_by == "safe"]


def hostile_configs() -> list[tuple[str, str, dict[str, str]]]:
    """(id, config, environment as Kubernetes would set it) of every collector the safe corpus renders."""
    out = []
    for case in SAFE:
        secrets = {
            (d["metadata"]["name"], k): v
            for d in case.documents()
            if d["kind"] == "Secret"
            for k, v in d.get("stringData", {}).items()
        }
        objects = process(case.sources(), case.namespace).objects
        for deployment in (o for o in objects if o["kind"] == "Deployment"):
            owner = deployment["metadata"]["labels"]["app.kubernetes.io/instance"]
            config = next(
                o["data"]["collector.yaml"]
                for o in objects
                if o["kind"] == "ConfigMap"
                and "collector.yaml" in o.get("data", {})
                and o["metadata"]["labels"]["app.kubernetes.io/instance"] == owner
            )
            env: dict[str, str] = {}
            for item in deployment["spec"]["template"]["spec"]["containers"][0].get("env", []):
                if "value" in item:
                    env[item["name"]] = item["value"].replace("$$", "$")  # Kubernetes' own unescaping
                else:
                    ref = item["valueFrom"]["secretKeyRef"]
                    env[item["name"]] = secrets[(ref["name"], ref["key"])]
            out.append((f"{case.id}-{owner[:20]}", config, env))
    return out


@pytest.mark.parametrize(("config", "env"), [c[1:] for c in hostile_configs()], ids=[c[0] for c in hostile_configs()])
def test_hostile_strings_are_text_to_the_collector(otelcol: None, config: str, env: dict[str, str]) -> None:
    # otelcol-vigil refuses unset variables and a ${file:} of a missing file: had any ${env:AWS_...}
    # or ${file:/var/run/...} of the specs been expanded, validate would fail.
    result = collector.validate(config, env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_expansion_of_a_hostile_string_would_fail_validate(otelcol: None) -> None:
    _, config, env = next(c for c in hostile_configs() if c[0].startswith("env-expansion"))
    assert "$${env:HOME}" in config
    result = collector.validate(config.replace("$${env:HOME}", "${env:HOME}"), env)
    assert result.returncode != 0
    assert '"HOME"' in result.stdout + result.stderr
