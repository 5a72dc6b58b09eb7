"""collector_metrics.py: which pods of a stack are read (the reads themselves: tests/tools/test_dataflow.py)."""

from __future__ import annotations

from typing import Any

from vigil import collector_metrics


def pod(name: str, *, owner: str = "shop-collector-5d8f", ip: str | None = "10.88.0.7", **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "ownerReferences": [{"kind": "ReplicaSet", "name": owner, "controller": True}],
        },
        "spec": extra.pop("spec", {}),
        "status": {"phase": extra.pop("phase", "Running"), "podIP": ip},
    }


def test_running_pods_of_the_collector_replicasets_are_read_by_ip() -> None:
    pods = [pod("shop-collector-5d8f-b", ip="10.88.0.8"), pod("shop-collector-5d8f-a")]
    assert collector_metrics.collector_pods(pods, "shop") == {
        "uid-shop-collector-5d8f-a": "10.88.0.7",
        "uid-shop-collector-5d8f-b": "10.88.0.8",
    }


def test_pods_that_cannot_be_a_running_collector_are_passed_over() -> None:
    pods = [
        pod("pending", phase="Pending", ip=None),
        pod("no-ip", ip=None),
        pod("finished", phase="Succeeded"),
        pod("lookalike", owner="other-collector-1"),  # same labels, another owner
        pod("host", spec={"hostNetwork": True}),  # its IP is a node's
    ]
    assert collector_metrics.collector_pods(pods, "shop") == {}


def test_at_most_max_pods_are_read() -> None:
    pods = [pod(f"shop-collector-5d8f-{i:03d}", ip=f"10.88.1.{i}") for i in range(collector_metrics.MAX_PODS + 5)]
    chosen = collector_metrics.collector_pods(pods, "shop")
    assert len(chosen) == collector_metrics.MAX_PODS
    assert "uid-shop-collector-5d8f-000" in chosen
