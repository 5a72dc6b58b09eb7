"""Every CEL rule in the CRDs has a Python twin with the same message, and a test that trips it."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

from tests.unit.dashboards import test_selection_model
from tests.unit.models import test_health, test_policy, test_sink, test_stack
from vigil.crd import build_crds
from vigil.destinations import DESTINATIONS
from vigil.models import bundles, common, dashboards, delivery, health, policy, sink, stack
from vigil.models.base import TYPE_RULES, VigilModel


def _models() -> list[type[VigilModel]]:
    found = []
    destinations = [sys.modules[d.model.__module__] for d in DESTINATIONS]
    for module in (common, delivery, sink, stack, health, policy, bundles, dashboards, *destinations):
        found += [
            obj
            for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, VigilModel) and obj.__module__ == module.__name__
        ]
    return found


def _crd_rules(node: object) -> list[dict[str, str]]:
    if isinstance(node, dict):
        own = [r for r in node.get("x-kubernetes-validations", []) if "keys must" not in r["message"]]
        return own + [r for v in node.values() for r in _crd_rules(v)]
    if isinstance(node, list):
        return [r for v in node for r in _crd_rules(v)]
    return []


def test_every_crd_rule_has_a_python_twin() -> None:
    twins = {(c.rule, c.message) for m in _models() for c in m.cel_rules}
    twins |= {(t.rule, t.message) for t in TYPE_RULES}
    in_crds = {(r["rule"], r["message"]) for r in _crd_rules(build_crds())}
    assert in_crds, "the CRDs carry no CEL rules"
    assert in_crds == twins


def _destination_cases() -> list[tuple[object, str, str]]:
    """The INVALID cases of every tests/unit/destinations/test_<destination>.py."""
    folder = Path(__file__).resolve().parents[1] / "destinations"
    modules = [importlib.import_module(f"tests.unit.destinations.{p.stem}") for p in sorted(folder.glob("test_*.py"))]
    return [case for m in modules for case in getattr(m, "INVALID", {}).values()]


def test_every_cel_rule_is_tripped_by_a_test_case() -> None:
    tested = {
        message
        for _, _, message in [
            *test_sink.INVALID.values(),
            *test_stack.INVALID.values(),
            *test_health.INVALID.values(),
            *test_policy.INVALID.values(),
            *test_selection_model.INVALID.values(),
            *_destination_cases(),
        ]
    }
    untested = [
        f"{m.__name__}: {c.message}" for m in _models() for c in m.cel_rules if not any(t in c.message for t in tested)
    ]
    untested += [f"type rule: {r.message}" for r in TYPE_RULES if not any(t in r.message for t in tested)]
    assert untested == []
