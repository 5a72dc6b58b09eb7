"""Every object of a stack: one name, one object."""

from __future__ import annotations

from tests.helpers import sink, stack
from vigil.offline import process
from vigil.parse import Source
from vigil.render import meta


def test_two_objects_of_one_stack_never_share_a_name() -> None:
    # Sink "b.c" gets ServiceMonitor a-sink-b-c-<hash>; a sink named exactly that takes the same name.
    twin = f"b-c-{meta.short_hash('a-sink-b.c')}"
    assert meta.sink_monitor_name("a", "b.c") == meta.sink_monitor_name("a", twin)
    docs = [
        sink("b.c", signals=["metrics"], prometheus={"port": 9464}),
        sink(twin, signals=["metrics"], prometheus={"port": 9465}),
        stack("a", sinks={"names": ["b.c", twin]}),
    ]
    result = process([(Source("in.yaml", i), d) for i, d in enumerate(docs, start=1)], "team-a")
    assert [(p.object, p.path) for p in result.problems] == [("MonitoringStack/a", "metadata.name")]
    assert "would be generated twice for this stack" in result.problems[0].message
    assert result.objects == []
