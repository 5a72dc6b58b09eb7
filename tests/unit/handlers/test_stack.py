"""The stack's handlers: a drift tick renders only the sinks that still exist, and a stack waits
for a sink the server lists but the index has not seen."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import sink, stack
from vigil.handlers.stack import index_behind, live_only
from vigil.k8s import ResourceType
from vigil.models.stack import MonitoringStack

pytestmark = pytest.mark.unit


class _Kube:
    """What the API server lists: sinks by name, with their labels."""

    def __init__(self, **live: dict[str, str]) -> None:
        self.live = live
        self.asked: list[tuple[str, str]] = []

    def labels_of(self, rt: ResourceType, namespace: str) -> dict[str, dict[str, str]]:
        self.asked.append((rt.kind, namespace))
        return self.live


def test_a_sink_the_index_still_holds_but_the_server_does_not_is_left_out() -> None:
    kube: Any = _Kube(kept={})
    index = [sink("kept", debug={}), sink("vanished", debug={})]
    assert [s["metadata"]["name"] for s in live_only(kube, "team-a", index)] == ["kept"]
    assert kube.asked == [("TelemetrySink", "team-a")]


def test_a_selected_sink_the_server_lists_and_the_index_lacks_holds_the_stack_back() -> None:
    kube: Any = _Kube(indexed={"team": "a"}, late={"team": "a"}, other={"team": "b"}, named={})
    selecting = MonitoringStack.model_validate(stack(sinks={"selector": {"matchLabels": {"team": "a"}}}))
    assert index_behind(kube, selecting, [sink("indexed")]) == ["late"]
    naming = MonitoringStack.model_validate(stack(sinks={"names": ["named"]}))
    assert index_behind(kube, naming, [sink("indexed")]) == ["named"]
    # A late sink the stack does not select holds nothing back.
    assert index_behind(kube, naming, [sink("indexed"), sink("named")]) == []
    assert kube.asked == [("TelemetrySink", "team-a")] * 3
