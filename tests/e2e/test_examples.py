"""examples/ on a cluster whose pods run, reconciled by the operator the chart installed as a pod:
collectors start with their real configs and carry data.

The examples' sinks point at services in an `observability` namespace; here those names lead to
real receivers on this machine (selectorless Services whose endpoints are the host), so what
the collectors export is checked by content, headers from Secrets included.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from images import build
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tests.harness.cluster import Cluster
from tests.harness.endpoint import HealthEndpoint
from tests.harness.fixtures import E2ECluster
from tests.harness.otlp import Recorded, grpc_trace_receiver, http_receiver, send_counter, send_logs, send_traces
from tests.harness.process import eventually
from tests.harness.release import RESTRICTED, Release
from tests.helpers import example_documents, sink

COLLECTOR_IMAGE = build.images()["collector"].tag
AVAILABLE_S = 240.0
DATA_S = 90.0


@dataclass
class Receivers:
    """The real receivers on this machine that the example sinks export to."""

    gateway: Recorded  # otel-gateway: OTLP/HTTP, every signal of aureus-otlp
    jaeger: Recorded  # jaeger-collector: OTLP/gRPC traces of the orchestrator stack
    mimir: Recorded  # mimir-distributor: Prometheus remote write of the orchestrator stack


@dataclass
class Examples:
    cluster: Cluster
    e2e: E2ECluster
    vigil: Release
    """The operator, installed by Helm (tests/e2e/conftest.py)."""
    receivers: Receivers
    stacks: dict[str, dict[str, Any]]
    secrets: dict[str, dict[str, str]]

    @property
    def ns(self) -> str:
        return self.cluster.ns


def _service(name: str, port: int, host_ip: str, target: int) -> list[dict[str, Any]]:
    """A Service without selector whose one endpoint is ``host_ip:target`` (a receiver on the host)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"ports": [{"name": "main", "port": port, "targetPort": target, "protocol": "TCP"}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-host", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [host_ip], "conditions": {"ready": True}}],
            "ports": [{"name": "main", "port": target, "protocol": "TCP"}],
        },
    ]


def _example_objects(ns: str) -> list[dict[str, Any]]:
    """examples/ for namespace ``ns``: sinks' `observability` services are looked up in ``ns``
    (every stack runs the operator's default collector image, the one built locally)."""
    docs = []
    for doc in copy.deepcopy(example_documents()):
        doc["metadata"]["namespace"] = ns
        if doc["kind"] == "TelemetrySink":
            docs.append(json.loads(json.dumps(doc).replace(".observability.svc", f".{ns}.svc")))
        else:
            docs.append(doc)
    return docs


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def examples(e2e_cluster: E2ECluster, vigil: Release) -> Iterator[Examples]:
    if e2e_cluster.host_ip is None:
        pytest.skip("set VIGIL_E2E_HOST_IP to the address pods reach this machine at (the local node knows it)")
    host = e2e_cluster.host_ip
    ns = f"vigil-e2e-{secrets.token_hex(3)}"
    cp = e2e_cluster.cp
    cp.kubectl("create", "namespace", ns)
    cp.kubectl("label", "namespace", ns, f"{RESTRICTED}=restricted")
    cluster = Cluster(cp, ns)
    with ExitStack() as stack:
        gateway_url, gateway = stack.enter_context(http_receiver(host))
        jaeger_addr, jaeger = stack.enter_context(grpc_trace_receiver(host))
        mimir_url, mimir = stack.enter_context(http_receiver(host))
        cluster.apply(
            *_service("otel-gateway", 4318, host, _port(gateway_url)),
            *_service("jaeger-collector", 4317, host, _port(jaeger_addr)),
            *_service("mimir-distributor", 8080, host, _port(mimir_url)),
        )
        docs = _example_objects(ns)
        cluster.apply(*docs)
        stacks = {d["metadata"]["name"]: d for d in docs if d["kind"] == "MonitoringStack"}
        example_secrets = {d["metadata"]["name"]: d["stringData"] for d in docs if d["kind"] == "Secret"}
        try:
            yield Examples(cluster, e2e_cluster, vigil, Receivers(gateway, jaeger, mimir), stacks, example_secrets)
        finally:
            cp.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _pods(ex: Examples, stack: str) -> list[dict[str, Any]]:
    out = ex.cluster.cp.kubectl(
        "get", "pods", "-n", ex.ns, "-l", f"app.kubernetes.io/instance={stack},app.kubernetes.io/component=collector",
        "-o", "json",
    )  # fmt: skip
    return list(json.loads(out.stdout)["items"])


def _rolled_out(ex: Examples, stack: str) -> dict[str, Any] | None:
    """The collector Deployment once every replica runs the current template and is available."""
    deployment = ex.cluster.get("deployment", f"{stack}-collector") or {}
    want = ex.stacks[stack]["spec"].get("collector", {}).get("replicas", 1)
    status = deployment.get("status", {})
    done = (
        status.get("observedGeneration") == deployment.get("metadata", {}).get("generation")
        and status.get("updatedReplicas") == want
        and status.get("availableReplicas") == want
        and status.get("replicas") == want
    )
    return deployment if done and len(_pods(ex, stack)) == want else None


def test_every_example_stack_runs_its_collector_with_the_rendered_config(examples: Examples) -> None:
    for name in examples.stacks:
        eventually(lambda n=name: examples.cluster.ready("mstack", n), f"MonitoringStack {name} Ready", 120)
    for name in examples.stacks:
        eventually(lambda n=name: _rolled_out(examples, n), f"{name}-collector Available", AVAILABLE_S)
    for name in examples.stacks:
        config_map = examples.cluster.get("configmap", f"{name}-collector-config") or {}
        for pod in _pods(examples, name):
            (container,) = pod["spec"]["containers"]
            assert container["image"] == COLLECTOR_IMAGE
            volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
            assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]
            (status,) = pod["status"]["containerStatuses"]
            assert status["ready"] is True
            assert status["restartCount"] == 0, f"{pod['metadata']['name']} restarted: {status}"
            logs = examples.cluster.cp.kubectl("logs", "-n", examples.ns, pod["metadata"]["name"]).stdout
            assert "Everything is ready" in logs, logs[-2000:]


def _spans(body: bytes) -> list[Any]:
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    return [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def _attributes(span: Any) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in span.attributes}


def _gateway_got(ex: Examples, path: str, header: str) -> list[bytes]:
    return [
        body
        for what, headers, body in ex.receivers.gateway.received()
        if what == path and headers.get("authorization") == header
    ]


def test_otlp_sent_to_the_collector_service_reaches_the_gateway_with_the_secret_header(examples: Examples) -> None:
    eventually(lambda: _rolled_out(examples, "aureus"), "aureus-collector Available", AVAILABLE_S)
    header = examples.secrets["otlp-gateway-auth"]["authorization"]
    marker = secrets.token_hex(4)
    with examples.e2e.reach(examples.ns, "aureus-collector", 4318) as address:
        base = f"http://{address}"
        send_traces(base, 3, {"user.id": "alice", "run": marker})
        send_logs(base, 2)
        send_counter(base, f"vigil_e2e_{marker}_total", 7, {"run": marker})

    def traces() -> list[Any]:
        spans = [s for body in _gateway_got(examples, "/v1/traces", header) for s in _spans(body)]
        return [s for s in spans if _attributes(s).get("run") == marker]

    # The collector may export them in more than one request.
    spans = eventually(
        lambda: len(traces()) >= 3 and traces(), "3 spans at the gateway with the Secret's Authorization header", DATA_S
    )
    assert sorted(s.name for s in spans) == ["op-0", "op-1", "op-2"]
    hashed = {_attributes(s)["user.id"] for s in spans}
    assert len(hashed) == 1, hashed
    assert "alice" not in hashed, f"user.id must arrive hashed (redact.hash): {hashed}"

    def logs() -> list[str]:
        bodies = _gateway_got(examples, "/v1/logs", header)
        requests = [logs_service_pb2.ExportLogsServiceRequest.FromString(b) for b in bodies]
        return [
            rec.body.string_value
            for r in requests
            for rl in r.resource_logs
            for sl in rl.scope_logs
            for rec in sl.log_records
        ]

    got = eventually(lambda: {"log line 0", "log line 1"} <= set(logs()) and logs(), "2 log records", DATA_S)
    assert "log line 0" in got

    def metric() -> list[Any]:
        bodies = _gateway_got(examples, "/v1/metrics", header)
        requests = [metrics_service_pb2.ExportMetricsServiceRequest.FromString(b) for b in bodies]
        return [
            m
            for r in requests
            for rm in r.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == f"vigil_e2e_{marker}_total"
        ]

    (counter, *_) = eventually(metric, "the counter at the gateway", DATA_S)
    assert counter.sum.data_points[0].as_int == 7


def test_orchestrator_traces_reach_jaeger_and_metrics_reach_mimir_with_its_token(examples: Examples) -> None:
    eventually(lambda: _rolled_out(examples, "orchestrator"), "orchestrator-collector Available", AVAILABLE_S)
    marker = secrets.token_hex(4)
    with examples.e2e.reach(examples.ns, "orchestrator-collector", 4318) as address:
        # 25 % of traces are kept (sampling): 40 make losing all of them a 1e-5 event.
        send_traces(f"http://{address}", 40, {"run": marker})
        send_counter(f"http://{address}", f"vigil_e2e_{marker}_total", 3)

    def jaeger_spans() -> list[Any]:
        spans = [
            s
            for what, _, body in examples.receivers.jaeger.received()
            if what.startswith("Export")
            for s in _spans(body)
        ]
        return [s for s in spans if _attributes(s).get("run") == marker]

    kept = eventually(jaeger_spans, "sampled spans at the Jaeger receiver (OTLP/gRPC)", DATA_S)
    assert 0 < len(kept) < 40, f"sampling at 25 % kept {len(kept)} of 40"
    token = examples.secrets["mimir-remote-write"]["token"]

    def pushes() -> list[tuple[str, dict[str, str], bytes]]:
        return [r for r in examples.receivers.mimir.received() if r[0] == "/api/v1/push"]

    (_, headers, body), *_ = eventually(pushes, "a remote-write push at the Mimir receiver", DATA_S)
    assert headers["authorization"] == f"Bearer {token}"
    assert headers["x-scope-orgid"] == "orchestrator"
    assert headers["content-encoding"] == "snappy"
    assert body


def _serving(ex: Examples, stack: str) -> dict[str, Any]:
    """What must not change while a refused config is around: the rollout and the pods running it."""
    deployment = ex.cluster.get("deployment", f"{stack}-collector") or {}
    config = ex.cluster.get("configmap", f"{stack}-collector-config") or {}
    return {
        "generation": deployment["metadata"]["generation"],
        "template": deployment["spec"]["template"],
        "config": config["data"],
        "pods": sorted(
            (p["metadata"]["uid"], p["status"]["containerStatuses"][0]["restartCount"]) for p in _pods(ex, stack)
        ),
    }


def _send_and_see_at_gateway(ex: Examples, header: str) -> None:
    marker = secrets.token_hex(4)
    with ex.e2e.reach(ex.ns, "aureus-collector", 4318) as address:
        send_traces(f"http://{address}", 1, {"run": marker})

    def arrived() -> list[Any]:
        got = [s for b in _gateway_got(ex, "/v1/traces", header) for s in _spans(b)]
        return [s for s in got if _attributes(s).get("run") == marker]

    eventually(arrived, "a span through the aureus collector at the gateway", DATA_S)


def test_a_sink_change_the_collector_rejects_rolls_nothing_and_the_old_pods_keep_serving(examples: Examples) -> None:
    eventually(lambda: _rolled_out(examples, "aureus"), "aureus-collector Available", AVAILABLE_S)
    eventually(lambda: examples.cluster.ready("mstack", "aureus"), "MonitoringStack aureus Ready", 120)
    before = _serving(examples, "aureus")
    header = examples.secrets["otlp-gateway-auth"]["authorization"]
    # Valid to the CRD and the models; the collector refuses the protocol version.
    bad = sink(
        "aureus-bus",
        labels={"team": "aureus"},
        signals=["logs"],
        kafka={"brokers": ["kafka.streaming.svc:9092"], "topic": "aureus-logs", "protocolVersion": "0.0.1"},
    )
    examples.cluster.apply(bad)
    try:
        refused = eventually(
            lambda: (
                examples.cluster.condition("mstack", "aureus").get("reason") == "InvalidConfig"
                and examples.cluster.condition("mstack", "aureus")
            ),
            "aureus Ready=False, reason InvalidConfig",
            120,
        )
        assert refused["status"] == "False"
        assert 'invalid protocol version: "0.0.1"' in refused["message"], refused["message"]
        eventually(
            lambda: any(
                e["reason"] == "InvalidConfig" and e["type"] == "Warning" for e in examples.cluster.events("aureus")
            ),
            "a Warning Event on the stack",
        )
        assert "aureus-bus" not in ((examples.cluster.get("mstack", "aureus") or {})["status"]["selectedSinks"])
        _send_and_see_at_gateway(examples, header)
        assert _serving(examples, "aureus") == before, "a refused config rolled the collector"
    finally:
        examples.cluster.cp.kubectl("delete", "tsink", "aureus-bus", "-n", examples.ns, "--ignore-not-found")
    eventually(lambda: examples.cluster.ready("mstack", "aureus"), "aureus Ready again without the sink", 120)
    assert _serving(examples, "aureus") == before, "the config is the one running: nothing to roll"


def test_rotating_the_secret_rolls_the_collector_and_the_gateway_sees_the_new_value(examples: Examples) -> None:
    before = eventually(lambda: _rolled_out(examples, "aureus"), "aureus-collector Available", AVAILABLE_S)
    old_hash = before["spec"]["template"]["metadata"]["annotations"]["vigil.dev/config-hash"]
    rotated = f"Bearer rotated-{secrets.token_hex(6)}"
    examples.cluster.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "otlp-gateway-auth"},
         "stringData": {"authorization": rotated}}
    )  # fmt: skip

    def rolled() -> dict[str, Any] | None:
        deployment = _rolled_out(examples, "aureus")
        if deployment is None:
            return None
        new_hash = deployment["spec"]["template"]["metadata"]["annotations"]["vigil.dev/config-hash"]
        return deployment if new_hash != old_hash else None

    eventually(rolled, "aureus-collector rolled to the new Secret", AVAILABLE_S)
    for pod in _pods(examples, "aureus"):
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    marker = secrets.token_hex(4)
    with examples.e2e.reach(examples.ns, "aureus-collector", 4318) as address:

        def arrived() -> list[Any]:
            # Sent again until it arrives: right after a rollout the Service may still route to
            # the pod that is going away.
            send_traces(f"http://{address}", 1, {"run": marker})
            return [
                s
                for b in _gateway_got(examples, "/v1/traces", rotated)
                for s in _spans(b)
                if _attributes(s).get("run") == marker
            ]

        eventually(arrived, "the span with the rotated Authorization header", DATA_S, interval_s=2)
    stale = [b for b in _gateway_got(examples, "/v1/traces", examples.secrets["otlp-gateway-auth"]["authorization"])
             if any(_attributes(s).get("run") == marker for s in _spans(b))]  # fmt: skip
    assert stale == [], "a request after the rollout still carried the old value"


def test_the_namespace_enforces_the_restricted_pod_security_standard(examples: Examples) -> None:
    ns = json.loads(examples.cluster.cp.kubectl("get", "namespace", examples.ns, "-o", "json").stdout)
    assert ns["metadata"]["labels"][RESTRICTED] == "restricted"
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "not-restricted", "namespace": examples.ns},
        "spec": {"containers": [{"name": "c", "image": COLLECTOR_IMAGE, "securityContext": {"privileged": True}}]},
    }
    refused = examples.cluster.cp.kubectl("apply", "-f", "-", input=yaml.safe_dump(privileged), check=False)
    assert refused.returncode != 0
    assert "violates PodSecurity" in refused.stderr, refused.stderr


CLIENT = """
import json, ssl, sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
context = ssl.create_default_context(cafile=f"{sa}/ca.crt")
token = open(f"{sa}/token").read()
# /api answers authenticated users only (system:discovery): the token must be valid.
request = urllib.request.Request("https://kubernetes.default.svc/api", headers={"Authorization": f"Bearer {token}"})
print("api versions:", json.load(urllib.request.urlopen(request, context=context, timeout=10))["versions"])
"""


def test_a_pod_reaches_a_collector_and_the_api_server_by_their_cluster_dns_names(examples: Examples) -> None:
    """Pod DNS, a ClusterIP from one pod to another, the API server from a pod with its
    service-account token (as the operator's pod does), and the operator image as a pod."""
    eventually(lambda: _rolled_out(examples, "aureus"), "aureus-collector Available", AVAILABLE_S)
    url = f"http://aureus-collector.{examples.ns}.svc.cluster.local:8888/metrics"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "metrics-client", "namespace": examples.ns},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "client",
                    "image": build.images()["operator"].tag,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["/usr/bin/python3.11", "-c", CLIENT, url],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    examples.cluster.cp.kubectl("apply", "-f", "-", input=yaml.safe_dump(pod))

    def finished() -> str:
        got = examples.cluster.get("pod", "metrics-client") or {}
        return (
            str(got.get("status", {}).get("phase", ""))
            if got.get("status", {}).get("phase")
            in (
                "Succeeded",
                "Failed",
            )
            else ""
        )

    phase = eventually(finished, "the client pod to finish", 120)
    logs = examples.cluster.cp.kubectl("logs", "-n", examples.ns, "metrics-client").stdout
    assert phase == "Succeeded", logs[-3000:]
    assert "otelcol_process_uptime" in logs, logs[-3000:]
    assert "api versions: ['v1']" in logs, logs[-3000:]


HEALTH_CLIENT = """
import sys, time, urllib.request
url, check = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 150
while True:
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    lines = [ln for ln in body.splitlines() if ln.startswith("httpcheck_status{") and check in ln]
    if any('http_status_class="2xx"' in ln and ln.endswith(" 1") for ln in lines) or time.monotonic() > deadline:
        print("\\n".join(lines))
        break
    time.sleep(2)
"""


def test_a_health_check_by_service_name_reaches_the_service_in_the_stacks_namespace(examples: Examples) -> None:
    """The health example's km-health check calls http://km-server.<namespace>.svc:5001/health: with
    a km-server Service whose endpoint is a real HTTP service on this machine, the collector's
    prometheus sink reports a 2xx answer, read by a pod through cluster DNS."""
    host = examples.e2e.host_ip
    assert host is not None
    endpoint = HealthEndpoint(host).start()
    try:
        examples.cluster.apply(*_service("km-server", 5001, host, endpoint.port))
        eventually(lambda: _rolled_out(examples, "health"), "health-collector Available", AVAILABLE_S)
        url = f"http://health-collector.{examples.ns}.svc.cluster.local:9465/metrics"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "health-client", "namespace": examples.ns},
            "spec": {
                "restartPolicy": "Never",
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [
                    {
                        "name": "client",
                        "image": build.images()["operator"].tag,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["/usr/bin/python3.11", "-c", HEALTH_CLIENT, url, 'health_check="km-health"'],
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            },
        }
        examples.cluster.cp.kubectl("apply", "-f", "-", input=yaml.safe_dump(pod))

        def finished() -> str:
            phase = str(((examples.cluster.get("pod", "health-client") or {}).get("status") or {}).get("phase", ""))
            return phase if phase in ("Succeeded", "Failed") else ""

        phase = eventually(finished, "the health client pod to finish", 240)
    finally:
        endpoint.stop()
    logs = examples.cluster.cp.kubectl("logs", "-n", examples.ns, "health-client").stdout
    assert phase == "Succeeded", logs[-3000:]
    answered = [ln for ln in logs.splitlines() if 'http_status_class="2xx"' in ln]
    assert answered, logs[-3000:]
    assert answered[0].endswith(" 1"), logs[-3000:]
    assert f'http_url="http://km-server.{examples.ns}.svc:5001/health"' in answered[0]
    assert f'namespace="{examples.ns}"' in answered[0]
    assert 'pod="health-collector-' in answered[0]
