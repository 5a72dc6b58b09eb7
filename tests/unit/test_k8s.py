"""The API client's failure modes that need no server: an API server that does not answer."""

from __future__ import annotations

import socket

import kubernetes
import pytest

from vigil.k8s import VIGIL, Kube, KubeError

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
