"""The API client without a server: no answer is a quiet retry; compare-before-write (contains)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, cast

import kubernetes
import pytest

from vigil.k8s import TYPES, VIGIL, ChildWatch, Kube, KubeError, contains, resource_type

MONITORING_STACK = VIGIL["MonitoringStack"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_answer_is_a_temporary_error_that_is_counted() -> None:
    config = kubernetes.client.Configuration()
    config.host = f"http://127.0.0.1:{closed_port()}"
    config.retries = 0
    kube = Kube(kubernetes.client.ApiClient(config))
    with pytest.raises(KubeError) as err:
        kube.get(MONITORING_STACK, "ns", "shop")
    assert err.value.temporary
    assert "no answer from the API server" in str(err.value)
    assert kube.counts == {"get": 1}


# contains(): the compare-before-write check that makes a no-op reconcile cost no write.
@pytest.mark.parametrize(
    ("live", "desired", "equal"),
    [
        ({"a": 1, "status": {"x": 1}, "metadata": {"uid": "u"}}, {"a": 1}, True),  # server adds fields
        ({"a": 1}, {"a": 2}, False),
        ({"a": 1}, {"a": 1, "b": 2}, False),  # a desired field the server lacks
        ({"l": [1, 2]}, {"l": [1, 2]}, True),
        ({"l": [1, 2, 3]}, {"l": [1, 2]}, False),  # lists compare whole, never as a prefix
        ({"l": [{"a": 1, "d": 0}]}, {"l": [{"a": 1}]}, True),  # defaults inside list items
        ({"m": "1Gi"}, {"m": "1024Mi"}, True),  # quantities by value
        ({"c": "500m"}, {"c": "0.5"}, True),
        ({"c": 1}, {"c": "1"}, True),  # the server may turn "1" into 1
        ({"m": "1Gi"}, {"m": "1G"}, False),
        ({"s": "abc"}, {"s": "abd"}, False),
        ({"s": None}, {"s": "x"}, False),
        ("x", {"a": 1}, False),
    ],
)
def test_contains(live: object, desired: object, equal: bool) -> None:
    assert contains(live, desired) is equal


class RecordingKube(Kube):
    """Applies nothing: records when each apply started and ended."""

    def __init__(self) -> None:
        super().__init__(kubernetes.client.ApiClient(kubernetes.client.Configuration()))
        self.log: list[tuple[str, str]] = []
        self._log_lock = threading.Lock()

    def apply(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        with self._log_lock:
            self.log.append(("start", obj["kind"]))
        time.sleep(0.05)
        with self._log_lock:
            self.log.append(("end", obj["kind"]))
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "1"}}


def child(api_version: str, kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "ns"}}


def test_children_are_applied_a_few_at_once_and_deployments_last() -> None:
    kube = RecordingKube()
    objects = [
        child("v1", "ServiceAccount", "c"),
        child("v1", "ConfigMap", "c-config"),
        child("v1", "ConfigMap", "c-connection"),
        child("v1", "Service", "c"),
        child("apps/v1", "Deployment", "c"),
    ]
    started = time.monotonic()
    kube._apply_in_waves([(resource_type(o["apiVersion"], o["kind"]), o) for o in objects])
    took = time.monotonic() - started
    # The Deployment starts only once everything it reads was applied.
    first_deployment = kube.log.index(("start", "Deployment"))
    assert sum(1 for event, _ in kube.log[:first_deployment] if event == "end") == 4
    # Four applies of 50 ms in waves of three, then one: well under five in a row.
    assert took < 0.2


def test_a_child_written_while_the_watch_lists_stays_verified() -> None:
    # The list may predate the write: the child is missing from it, yet it exists; the watch shows it next.
    rt = TYPES[("v1", "ConfigMap")]
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}}
    watch = ChildWatch(cast(Kube, None))
    listing_started = 0
    watch.remember(rt, desired, "7")
    watch._replace(rt, "", [], listing_started)
    assert watch.verified(rt, desired, "7")
    # Remembered before a list that lacks it: deleted while no watch ran.
    watch._replace(rt, "", [], listing_started + 1)
    assert not watch.verified(rt, desired, "7")
