"""status.dataFlow on a cluster whose pods run: the operator pod reads each collector pod's own metrics.

A sink points at a receiver on this machine that is stopped: its exports fail, the stack reports
the failures per sink and turns Degraded (ExportFailing) while the other sink stays healthy. The
receiver starts: data arrives, and the stack recovers.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_examples import _service
from tests.harness.cluster import Cluster
from tests.harness.fixtures import E2ECluster
from tests.harness.otlp import http_receiver, send_traces
from tests.harness.process import eventually
from tests.harness.release import RESTRICTED, Release
from tests.harness.tools import free_port
from tests.helpers import sink, stack

AVAILABLE_S = 240.0
FLOW_S = 120.0


@pytest.fixture
def cluster(e2e_cluster: E2ECluster, vigil: Release) -> Iterator[Cluster]:
    if e2e_cluster.host_ip is None:
        pytest.skip("set VIGIL_E2E_HOST_IP to the address pods reach this machine at (the local node knows it)")
    ns = f"vigil-flow-{secrets.token_hex(3)}"
    e2e_cluster.cp.kubectl("create", "namespace", ns)
    e2e_cluster.cp.kubectl("label", "namespace", ns, f"{RESTRICTED}=restricted")
    try:
        yield Cluster(e2e_cluster.cp, ns)
    finally:
        e2e_cluster.cp.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _flow(cluster: Cluster) -> dict[str, dict[str, Any]]:
    found = ((cluster.get("mstack", "flow") or {}).get("status") or {}).get("dataFlow") or {}
    return {s["sink"]: s for s in found.get("sinks", [])}


def test_a_stopped_receiver_makes_the_stack_degraded_until_it_starts(e2e_cluster: E2ECluster, cluster: Cluster) -> None:
    assert e2e_cluster.host_ip is not None
    port = free_port()  # nothing listens here until the receiver starts
    cluster.apply(
        *_service("flow-receiver", 4318, e2e_cluster.host_ip, port),
        sink(
            "gateway",
            signals=["traces"],
            otlp={"endpoint": f"http://flow-receiver.{cluster.ns}.svc:4318", "protocol": "http"},
            # The collector counts a failure when it gives up on a batch after its retries.
            retry={"initialInterval": "1s", "maxInterval": "1s", "maxElapsedTime": "2s"},
        ),
        sink("console", signals=["traces"], debug={}),
        stack("flow", sinks={"names": ["console", "gateway"]}),
    )
    eventually(lambda: cluster.ready("mstack", "flow"), "stack flow Ready")

    def available() -> bool:
        deployment = cluster.get("deployment", "flow-collector") or {}
        return deployment.get("status", {}).get("availableReplicas") == 1

    eventually(available, "flow-collector Available", AVAILABLE_S)

    with e2e_cluster.reach(cluster.ns, "flow-collector", 4318) as address:

        def failing() -> dict[str, Any]:
            send_traces(f"http://{address}", 1)
            degraded = cluster.condition("mstack", "flow", "Degraded")
            return degraded if degraded.get("reason") == "ExportFailing" else {}

        degraded = eventually(failing, "Degraded, reason ExportFailing", FLOW_S, interval_s=1)
        assert degraded["status"] == "True"
        assert "TelemetrySink/gateway: exports have been failing since" in degraded["message"]
        assert "console" not in degraded["message"]
        assert cluster.condition("mstack", "flow")["status"] == "True", "Degraded, still Ready"
        flow = _flow(cluster)
        assert flow["gateway"]["failed"] > 0
        assert flow["gateway"]["sent"] == 0
        assert flow["gateway"]["lastFailureTime"] > flow["gateway"]["failingSince"]
        assert flow["console"]["sent"] > 0, "the debug sink's exports succeed"
        assert flow["console"]["failed"] == 0
        assert "failingSince" not in flow["console"]
        status = (cluster.get("mstack", "flow") or {})["status"]
        assert status["dataFlow"]["pods"] == 1
        eventually(
            lambda: any(e["reason"] == "ExportFailing" and e["type"] == "Warning" for e in cluster.events("flow")),
            "a Warning Event ExportFailing on the stack",
        )

        with http_receiver(e2e_cluster.host_ip, port) as (_, received):

            def recovered() -> dict[str, Any]:
                send_traces(f"http://{address}", 1)
                gateway = _flow(cluster).get("gateway", {})
                healthy = cluster.condition("mstack", "flow", "Degraded").get("status") == "False"
                return gateway if healthy and gateway.get("sent", 0) > 0 and "failingSince" not in gateway else {}

            gateway = eventually(recovered, "the gateway sink flowing again, not Degraded", FLOW_S, interval_s=1)
            assert gateway["failed"] > 0, "the failures of the pods that run are still counted"
            assert "lastFailureTime" in gateway
            assert any(path == "/v1/traces" for path, _, _ in received.received())
