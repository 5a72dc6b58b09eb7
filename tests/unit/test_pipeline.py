"""The stack pipeline: selection stays in the namespace, the config is built once, the plan."""

from __future__ import annotations

from types import MappingProxyType

from tests.helpers import sink, stack
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.pipeline import build_from_documents, select_sinks


def _sink(name: str, namespace: str = "team-a", **labels: str) -> TelemetrySink:
    doc = sink(name, labels=labels, signals=["logs"], debug={})
    doc["metadata"]["namespace"] = namespace
    return TelemetrySink.model_validate(doc)


def _stack(**sinks: object) -> MonitoringStack:
    return MonitoringStack.model_validate(stack("s", sinks=sinks))


def test_names_and_selector_are_combined_and_sorted() -> None:
    picked = select_sinks(
        _stack(names=["z"], selector={"matchLabels": {"team": "a"}}),
        [_sink("z"), _sink("b", team="a"), _sink("c", team="b")],
    )
    assert [s.metadata.name for s in picked[0]] == ["b", "z"]
    assert picked[1] == []


def test_other_namespaces_are_never_selected() -> None:
    picked = select_sinks(
        _stack(names=["x"], selector={}),
        [_sink("x", namespace="team-b"), _sink("y", namespace="team-b")],
    )
    assert picked == ([], ["x"])


def test_match_expressions() -> None:
    sel = {
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["gold"]},
            {"key": "off", "operator": "DoesNotExist"},
        ]
    }
    picked = select_sinks(
        _stack(selector=sel),
        [_sink("a", tier="gold"), _sink("b", tier="gold", off="1"), _sink("c", tier="x")],
    )
    assert [s.metadata.name for s in picked[0]] == ["a"]


def test_build_reads_the_read_only_mappings_kopf_hands_over() -> None:
    doc = stack("s", sinks={"names": ["a"]})
    doc["metadata"]["namespace"] = "team-a"
    built = build_from_documents(MappingProxyType(doc), [MappingProxyType(_sink("a").model_dump(by_alias=True))])
    assert not isinstance(built, list), built
    assert [s.metadata.name for s in built.sinks] == ["a"]
    assert built.config is not None
