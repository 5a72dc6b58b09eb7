"""Every regular expression of the CRDs means the same to the three engines that apply it.

The API server applies OpenAPI ``pattern`` and CEL ``matches()`` with RE2; the models apply
``pattern=`` constraints with pydantic's engine and the CEL twins with Python's ``re``
(vigil.models.base.matches). A test CRD carries every pattern twice, as a ``pattern`` and as a
CEL rule, and one dry-run per string of a corpus of near misses says which the server refuses.
"""

from __future__ import annotations

import functools
import json
import re
import ssl
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
import urllib3
import yaml
from pydantic import StringConstraints, TypeAdapter, ValidationError

from tests.fuzz import TRICKY
from tests.harness.controlplane import ControlPlane
from vigil.crd import build_crds
from vigil.models.base import matches

GROUP = "patterns.test.vigil.dev"
NAMESPACE = "vigil-patterns"

_MATCHES = re.compile(r"matches\(r?'((?:[^'\\]|\\.)*)'\)")


def _patterns(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            found.add(node["pattern"])
        for rule in node.get("x-kubernetes-validations", []):
            found |= set(_MATCHES.findall(rule["rule"]))
        for child in node.values():
            found |= _patterns(child)
    elif isinstance(node, list):
        for child in node:
            found |= _patterns(child)
    return found


PATTERNS = sorted({p for crd in build_crds() for p in _patterns(crd["spec"]["versions"][0]["schema"])})

SAMPLES = ["host:4317", "https://otlp.example.com:4318/v1", "ops@company.com", "/metrics", "5m", "1h30m", "#alerts"]
SAMPLES += ["a-b.c", "aureus_tasks_total", "/var/lib/vigil/out.json", "1.2.3", "100Mi", "X-Scope-OrgID", "{{window}}"]
CORPUS = sorted(
    {*SAMPLES, *TRICKY, *(s + t for s in SAMPLES for t in TRICKY), *(t + s for s in SAMPLES[:3] for t in TRICKY)}
)


CHUNK = 50
"""Corpus strings per request."""


def _crd() -> dict[str, Any]:
    # Per pattern i: a list p<i> whose items carry it as a pattern, and a list c<i> whose items
    # carry it as a CEL rule; the server names each item it refuses, e.g. spec.c3[7].
    properties: dict[str, Any] = {}
    for i, pattern in enumerate(PATTERNS):
        quoted = f"r'{pattern}'" if "'" not in pattern else f'r"{pattern}"'
        rule = {"rule": f"self.matches({quoted})", "message": "does not match"}
        item = {"type": "string", "maxLength": 64}
        properties[f"p{i}"] = {"type": "array", "maxItems": CHUNK, "items": {**item, "pattern": pattern}}
        properties[f"c{i}"] = {
            "type": "array",
            "maxItems": CHUNK,
            "items": {**item, "x-kubernetes-validations": [rule]},
        }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"patterns.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": "Pattern", "plural": "patterns", "singular": "pattern", "listKind": "PatternList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": properties}},
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def refused_by_server(control_plane: ControlPlane) -> Iterator[dict[str, set[int]]]:
    """For each corpus string, the indexes of the patterns the API server refuses it for."""
    crd = _crd()
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(crd))
    control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd['metadata']['name']}")
    control_plane.kubectl("create", "namespace", NAMESPACE)
    kubeconfig = yaml.safe_load(control_plane.kubeconfig.read_text())
    context = ssl.create_default_context(cafile=kubeconfig["clusters"][0]["cluster"]["certificate-authority"])
    refused: dict[str, set[int]] = {}
    try:
        with urllib3.PoolManager(maxsize=1, ssl_context=context) as http:
            for start in range(0, len(CORPUS), CHUNK):
                refused.update(_judge(control_plane, http, CORPUS[start : start + CHUNK]))
        yield refused
    finally:
        control_plane.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
        control_plane.kubectl("delete", "crd", crd["metadata"]["name"], "--wait=false", check=False)


def _judge(cp: ControlPlane, http: urllib3.PoolManager, texts: list[str]) -> dict[str, set[int]]:
    """For each of ``texts``, the patterns the server refuses it for (by pattern and by CEL alike)."""
    verdicts = []
    for prefix in ("p", "c"):
        refused: dict[str, set[int]] = {t: set() for t in texts}
        for field in _causes(cp, http, prefix, texts):
            found = re.fullmatch(rf"spec\.{prefix}(\d+)\[(\d+)\]", field)
            assert found, field
            refused[texts[int(found.group(2))]].add(int(found.group(1)))
        verdicts.append(refused)
    by_pattern, by_cel = verdicts
    assert by_pattern == by_cel, "the server's pattern and CEL matches() disagree"
    return by_pattern


def _causes(cp: ControlPlane, http: urllib3.PoolManager, prefix: str, texts: list[str]) -> list[str]:
    spec = {f"{prefix}{i}": texts for i in range(len(PATTERNS))}
    body = {"apiVersion": f"{GROUP}/v1", "kind": "Pattern", "metadata": {"name": "x"}, "spec": spec}
    response = http.request(
        "POST",
        f"{cp.url}/apis/{GROUP}/v1/namespaces/{NAMESPACE}/patterns?dryRun=All",
        body=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {cp.token}", "Content-Type": "application/json"},
        timeout=60,
    )
    if response.status == 201:
        return []
    assert response.status == 422, response.data
    return [c.get("field", "") for c in json.loads(response.data)["details"]["causes"]]


@functools.cache
def _adapter(pattern: str) -> TypeAdapter[str]:
    return TypeAdapter(Annotated[str, StringConstraints(pattern=pattern)])


def _pydantic_refuses(pattern: str, text: str) -> bool:
    try:
        _adapter(pattern).validate_python(text)
    except ValidationError:
        return True
    return False


def test_the_crds_have_patterns_to_compare() -> None:
    assert len(PATTERNS) > 20
    assert len(CORPUS) > 300


@pytest.mark.parametrize("index", range(len(PATTERNS)), ids=lambda i: PATTERNS[i][:40])
def test_python_pydantic_and_re2_agree_on_every_pattern(refused_by_server: dict[str, set[int]], index: int) -> None:
    pattern = PATTERNS[index]
    disagree = [
        (text, index in refused, not matches(pattern, text), _pydantic_refuses(pattern, text))
        for text, refused in refused_by_server.items()
        if len({index in refused, not matches(pattern, text), _pydantic_refuses(pattern, text)}) > 1
    ]
    assert disagree == [], f"{pattern}: (text, RE2 refuses, re refuses, pydantic refuses): {disagree[:5]}"
