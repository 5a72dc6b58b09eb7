"""The hostile corpus (tests/data/hostile/) offline: each attack refused with its field and words,
or rendered safely."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers import HostileCase, hostile_cases
from vigil.offline import process
from vigil.render.collector_config import foreign_expansions

CASES = hostile_cases()
REFUSED = [c for c in CASES if c.judged_by in ("crd", "vigil") or (c.judged_by == "operator" and c.offline)]
DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Kinds whose names are DNS-1035 labels (Service) or at least DNS-1123 labels of 63 characters.
LABEL_NAMED = {"Service", "ServiceAccount", "Deployment", "ConfigMap", "PodDisruptionBudget"}


def test_the_corpus_covers_every_kind_of_attack() -> None:
    judged = {c.judged_by for c in CASES}
    assert judged == {"crd", "operator", "vigil", "safe"}
    assert len(CASES) >= 40
    for case in CASES:
        if case.judged_by != "safe":
            assert case.expect_path, f"{case.id}: expect-path"
            assert case.expect_message, f"{case.id}: expect-message"


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.id)
def test_attack_is_refused_naming_the_field(case: HostileCase) -> None:
    result = process(case.sources(), case.namespace)
    found = [(p.path, p.message) for p in result.problems]
    assert any(p == case.expect_path and case.expect_message in m for p, m in found), found
    assert all(not CONTROL.search(str(p)) for p in result.problems), "messages must escape control characters"
    secret = case.header.get("never-shows")
    if secret:
        assert all(secret not in str(p) for p in result.problems)


@pytest.mark.parametrize("case", [c for c in CASES if c.judged_by == "operator" and not c.offline], ids=lambda c: c.id)
def test_what_only_the_cluster_shows_passes_offline(case: HostileCase) -> None:
    result = process(case.sources(), case.namespace)
    assert result.problems == []


def _names_are_valid(obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    name = meta["name"]
    assert len(name) <= 253
    assert DNS_SUBDOMAIN.fullmatch(name), name
    if obj["kind"] in LABEL_NAMED:
        assert len(name) <= 63
        assert DNS_1035.fullmatch(name), f"{obj['kind']} {name}"
    for value in meta.get("labels", {}).values():
        assert len(value) <= 63
        assert LABEL_VALUE.fullmatch(value), value


@pytest.mark.parametrize("case", [c for c in CASES if c.judged_by == "safe"], ids=lambda c: c.id)
def test_safe_input_renders_safely(case: HostileCase) -> None:
    result = process(case.sources(), case.namespace)
    assert result.problems == []
    assert result.objects
    names = [(o["kind"], o["metadata"]["name"]) for o in result.objects]
    assert len(names) == len(set(names)), "two objects with one name"
    for obj in result.objects:
        _names_are_valid(obj)
        config = obj.get("data", {}).get("collector.yaml")
        if config is not None:
            assert foreign_expansions(config) == [], config
