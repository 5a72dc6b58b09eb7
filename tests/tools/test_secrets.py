"""A byte scan: no Secret value from the examples appears anywhere in what Vigil renders."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.helpers import HostileCase, example_secret_values, hostile_cases, render_examples
from vigil.offline import process
from vigil.render.collector_config import env_references


def test_no_secret_value_in_any_rendered_object() -> None:
    values = example_secret_values()
    assert len(values) >= 4
    rendered = json.dumps(render_examples().objects).encode()
    leaked = [v for v in values if v.encode() in rendered]
    assert leaked == []


def test_scan_would_catch_a_leak() -> None:
    values = example_secret_values()
    rendered = json.dumps([*render_examples().objects, {"data": {"x": values[0]}}]).encode()
    assert values[0].encode() in rendered


# --- the hostile corpus: nothing from a spec becomes a ${...} expansion, no Secret is rendered ------

RENDERED = [c for c in hostile_cases() if process(c.sources(), c.namespace).objects]


def _secret_values(case: HostileCase) -> list[str]:
    return [str(v) for d in case.documents() if d.get("kind") == "Secret" for v in d.get("stringData", {}).values()]


def _inline_values(case: HostileCase) -> list[str]:
    """Inline header and credential values of the case's sinks (they belong in env, never in a ConfigMap)."""
    found: list[str] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            if "value" in node and isinstance(node["value"], str) and ("name" in node or key in CREDENTIAL_KEYS):
                found.append(node["value"])
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)

    for doc in case.documents():
        if doc.get("kind") == "TelemetrySink":
            walk(doc["spec"])
    return found


CREDENTIAL_KEYS = {"bearerToken", "username", "password"}


def test_the_corpus_carries_secrets_and_inline_credentials() -> None:
    assert RENDERED
    assert any(_secret_values(c) for c in RENDERED)
    assert any("${env:" in v for c in RENDERED for v in _inline_values(c))


@pytest.mark.parametrize("case", RENDERED, ids=lambda c: c.id)
def test_no_secret_and_no_foreign_expansion_reaches_a_collector_config(case: HostileCase) -> None:
    objects = process(case.sources(), case.namespace).objects
    everything = json.dumps(objects).encode()
    assert [v for v in _secret_values(case) if v.encode() in everything] == []
    config_maps = json.dumps([o for o in objects if o["kind"] == "ConfigMap"]).encode()
    assert [v for v in _inline_values(case) if v.encode() in config_maps] == []
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        owner = deployment["metadata"]["labels"]["app.kubernetes.io/instance"]
        config = next(
            o["data"]["collector.yaml"]
            for o in objects
            if o["kind"] == "ConfigMap"
            and "collector.yaml" in o.get("data", {})
            and o["metadata"]["labels"]["app.kubernetes.io/instance"] == owner
        )
        # The collector expands what its YAML holds: after its own escape ($$), every "${" left in a
        # key or value is Vigil's reference to its own environment, which the Deployment sets.
        strings = _strings(yaml.safe_load(config))
        assert [t for t in strings if _foreign(t)] == []
        assert {n for t in strings for n in env_references(t)} <= env


VIGIL_REFERENCE = re.compile(r"\$\{env:VIGIL_[A-Z0-9_]+\}")


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def _foreign(text: str) -> list[str]:
    """What in ``text`` the collector would expand that is not Vigil's ``${env:VIGIL_...}``."""
    return re.findall(r"\$.?", VIGIL_REFERENCE.sub("", text.replace("$$", "")))


def test_the_scan_would_catch_a_foreign_expansion() -> None:
    assert _foreign("${env:HOME}:4317") == ["${"]
    assert _foreign("$${env:HOME} $$5 ${env:VIGIL_X_HEADER_A}") == []
    assert _foreign("$$${file:/etc/passwd}") == ["${"]
