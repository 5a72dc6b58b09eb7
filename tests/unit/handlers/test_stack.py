"""The stack's handlers: a drift tick renders only the sinks that still exist."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import sink
from vigil.handlers.stack import live_only
from vigil.k8s import ResourceType

pytestmark = pytest.mark.unit


class _Kube:
    def __init__(self, *names: str) -> None:
        self.live = set(names)
        self.asked: list[tuple[str, str]] = []

    def names(self, rt: ResourceType, namespace: str) -> set[str]:
        self.asked.append((rt.kind, namespace))
        return self.live


def test_a_sink_the_index_still_holds_but_the_server_does_not_is_left_out() -> None:
    kube: Any = _Kube("kept")
    index = [sink("kept", debug={}), sink("vanished", debug={})]
    assert [s["metadata"]["name"] for s in live_only(kube, "team-a", index)] == ["kept"]
    assert kube.asked == [("TelemetrySink", "team-a")]
