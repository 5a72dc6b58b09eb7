"""Real data through the real collector to each sink type, from rendered configs.

OTLP goes in through the collector's OTLP/HTTP receiver (OpenTelemetry Python SDK); each test
then checks what arrived where the sink points: a file, an OTLP receiver that records headers,
a real Prometheus (remote write), or the collector's own scrape endpoint. Kafka has no broker
here: its config is proven by `otelcol-vigil validate` in test_collector.py only.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import collector, otlp
from tests.harness.process import eventually
from tests.harness.prometheus import start_prometheus
from tests.harness.tools import free_port, require
from tests.helpers import sink, stack
from vigil import collector_metrics, dataflow
from vigil.dataflow import Counts
from vigil.destinations.file import DATA_ROOT
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render.collector_config import build_collector_config

SECRET_VALUE = "Bearer dataflow-test-credential"


@pytest.fixture
def run_collector(tmp_path: Path) -> Iterator[Callable[..., collector.RunningCollector]]:
    """Render a collector config for sinks and start the real collector on it."""
    require("otelcol-vigil")
    started: list[collector.RunningCollector] = []

    def _run(*sinks: dict[str, Any], secrets: dict[str, str] | None = None) -> collector.RunningCollector:
        model = MonitoringStack.model_validate(stack("flow", sinks={"selector": {}}))
        built = build_collector_config(model, [TelemetrySink.model_validate(s) for s in sinks])
        env = {
            e.name: e.value if e.value is not None else (secrets or {})[f"{e.secret_name}/{e.secret_key}"]
            for e in built.env
        }
        running = collector.run(built.text, tmp_path, env)
        started.append(running)
        return running

    yield _run
    for running in started:
        running.stop()
        log = running.process.log.read_text(errors="replace")
        assert "deprecated" not in log, "the collector warned about a deprecated setting:\n" + log


def _otlp_http(running: collector.RunningCollector) -> str:
    return f"http://127.0.0.1:{running.port(4318)}"


def _read_json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    # Only complete lines: the collector may be writing the last one right now.
    return [json.loads(line) for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]


def _spans(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for line in lines for rs in line.get("resourceSpans", []) for ss in rs["scopeSpans"] for s in ss["spans"]]


def _logs(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r for line in lines for rl in line.get("resourceLogs", []) for sl in rl["scopeLogs"] for r in sl["logRecords"]
    ]


def _metric_names(lines: list[dict[str, Any]]) -> set[str]:
    return {
        m["name"]
        for line in lines
        for rm in line.get("resourceMetrics", [])
        for sm in rm["scopeMetrics"]
        for m in sm["metrics"]
    }


def test_file_sink_receives_traces_metrics_and_logs(run_collector: Callable[..., Any], tmp_path: Path) -> None:
    out = collector.data_dir(tmp_path) / "out" / "telemetry.jsonl"
    out.parent.mkdir(parents=True)
    running = run_collector(
        sink("file", signals=["traces", "metrics", "logs"], file={"path": f"{DATA_ROOT}/out/telemetry.jsonl"})
    )
    otlp.send_traces(_otlp_http(running), 7)
    otlp.send_logs(_otlp_http(running), 5)
    otlp.send_counter(_otlp_http(running), "vigil_dataflow_requests", 3)
    eventually(lambda: len(_spans(_read_json_lines(out))) == 7, "7 spans in the file")
    eventually(lambda: len(_logs(_read_json_lines(out))) == 5, "5 log records in the file")
    eventually(
        lambda: "vigil_dataflow_requests" in _metric_names(_read_json_lines(out)),
        "the counter in the file",
    )


def test_otlp_http_sink_delivers_with_the_secret_header(run_collector: Callable[..., Any]) -> None:
    with otlp.http_receiver() as (url, recorded):
        running = run_collector(
            sink(
                "gw",
                signals=["traces", "logs"],
                otlp={
                    "endpoint": url,
                    "protocol": "http",
                    "headers": [
                        {
                            "name": "Authorization",
                            "valueFrom": {"secretKeyRef": {"name": "gw-auth", "key": "token"}},
                        }
                    ],
                },
            ),
            secrets={"gw-auth/token": SECRET_VALUE},
        )
        otlp.send_traces(_otlp_http(running), 3)
        otlp.send_logs(_otlp_http(running), 2)
        requests = eventually(
            lambda: {p for p, _ in recorded.snapshot()} >= {"/v1/traces", "/v1/logs"} and recorded.snapshot(),
            "traces and logs at the OTLP/HTTP receiver",
        )
    assert all(headers["authorization"] == SECRET_VALUE for _, headers in requests)


def test_otlp_grpc_sink_delivers_with_the_secret_header(run_collector: Callable[..., Any]) -> None:
    with otlp.grpc_trace_receiver() as (endpoint, recorded):
        running = run_collector(
            sink(
                "tempo",
                signals=["traces"],
                otlp={
                    "endpoint": endpoint,
                    "protocol": "grpc",
                    "tls": {"insecure": True},
                    "headers": [
                        {
                            "name": "Authorization",
                            "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}},
                        }
                    ],
                },
            ),
            secrets={"t/k": SECRET_VALUE},
        )
        otlp.send_traces(_otlp_http(running), 4)
        calls = eventually(
            lambda: sum(int(w.split(":")[1]) for w, _ in recorded.snapshot()) >= 4 and recorded.snapshot(),
            "4 spans at the OTLP/gRPC receiver",
        )
    assert all(headers["authorization"] == SECRET_VALUE for _, headers in calls)


def test_remote_write_sink_writes_into_a_real_prometheus(run_collector: Callable[..., Any], tmp_path: Path) -> None:
    prom = start_prometheus(require("prometheus"), tmp_path)
    try:
        running = run_collector(
            sink(
                "rw",
                signals=["metrics"],
                prometheusRemoteWrite={
                    "url": f"{prom.url}/api/v1/write",
                    "externalLabels": {"cluster": "dataflow"},
                    "auth": {"bearerToken": {"valueFrom": {"secretKeyRef": {"name": "rw", "key": "token"}}}},
                },
            ),
            secrets={"rw/token": "remote-write-token"},
        )
        otlp.send_counter(_otlp_http(running), "vigil_dataflow_writes", 42, {"route": "/orders"})
        result = eventually(
            lambda: prom.query('vigil_dataflow_writes_total{route="/orders"}'),
            "the series in Prometheus",
        )
    finally:
        prom.stop()
    assert result[0]["metric"]["cluster"] == "dataflow"
    assert float(result[0]["value"][1]) == 42


def test_prometheus_sink_is_scraped_over_http(run_collector: Callable[..., Any]) -> None:
    running = run_collector(
        sink(
            "prom",
            signals=["metrics"],
            prometheus={
                "port": 9464,
                "namespace": "aureus",
                "constLabels": {"environment": "production"},
            },
        )
    )
    otlp.send_counter(_otlp_http(running), "tasks_started", 5, {"task_type": "action"})

    def scrape() -> list[Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{running.port(9464)}/metrics", timeout=2) as resp:
            families = list(text_string_to_metric_families(resp.read().decode()))
        return [s for f in families for s in f.samples if s.name == "aureus_tasks_started_total"]

    samples = eventually(scrape, "aureus_tasks_started_total on the scrape endpoint")
    assert samples[0].value == 5
    assert samples[0].labels["environment"] == "production"
    assert samples[0].labels["task_type"] == "action"


def test_sampling_at_zero_drops_every_trace(run_collector: Callable[..., Any], tmp_path: Path) -> None:
    out = collector.data_dir(tmp_path) / "sampled" / "out.jsonl"
    out.parent.mkdir(parents=True)
    running = run_collector(
        sink(
            "sampled",
            signals=["traces", "logs"],
            file={"path": f"{DATA_ROOT}/sampled/out.jsonl"},
            sampling={"percentage": 0},
        )
    )
    otlp.send_traces(_otlp_http(running), 20)
    otlp.send_logs(_otlp_http(running), 3)
    eventually(lambda: len(_logs(_read_json_lines(out))) == 3, "the logs (sent after the traces)")
    time.sleep(1)
    assert _spans(_read_json_lines(out)) == []


def test_redaction_deletes_and_hashes_attributes(run_collector: Callable[..., Any], tmp_path: Path) -> None:
    out = collector.data_dir(tmp_path) / "redacted" / "out.jsonl"
    out.parent.mkdir(parents=True)
    running = run_collector(
        sink(
            "redacted",
            signals=["traces"],
            file={"path": f"{DATA_ROOT}/redacted/out.jsonl"},
            redact={"delete": ["card.number"], "hash": ["user.id"]},
        )
    )
    otlp.send_traces(
        _otlp_http(running),
        2,
        {"card.number": "4111111111111111", "user.id": "alice", "keep": "yes"},
    )
    spans = eventually(lambda: _spans(_read_json_lines(out)), "spans in the file")
    for span in spans:
        attributes = {a["key"]: a["value"]["stringValue"] for a in span["attributes"]}
        assert "card.number" not in attributes
        assert attributes["keep"] == "yes"
        assert attributes["user.id"] not in ("alice", "")
    assert "4111111111111111" not in out.read_text()


# --- data-flow health: the collector's own counters, as the operator reads them --------------------


def _counts(running: collector.RunningCollector, sinks: list[str]) -> dict[str, Counts]:
    body = collector_metrics.fetch("127.0.0.1", running.port(8888))
    assert body is not None, "the collector's own metrics did not answer"
    return dataflow.per_sink(dataflow.parse_metrics(body), sinks)


def test_the_collectors_counters_say_when_a_sink_keeps_failing_and_when_it_recovers(
    run_collector: Callable[..., Any],
) -> None:
    port = free_port()  # the receiver is stopped: nothing listens here until the end
    running = run_collector(
        sink(
            "gateway",
            signals=["traces"],
            otlp={"endpoint": f"http://127.0.0.1:{port}", "protocol": "http"},
            # Failures are counted when the exporter gives up on a batch: keep that short.
            retry={"initialInterval": "1s", "maxInterval": "1s", "maxElapsedTime": "2s"},
        ),
        sink("console", signals=["traces"], debug={}),
    )
    sinks = ["console", "gateway"]
    base = _otlp_http(running)
    flow, memory = None, None
    reads: list[dataflow.Observation] = []

    def read(now: str) -> None:
        nonlocal flow, memory
        seen = dataflow.observe(flow, memory, {"pod": _counts(running, sinks)}, sinks, now)
        flow, memory = seen.flow, seen.memory
        reads.append(seen)

    read("2026-12-01T12:00:00Z")  # the baseline
    for second, spans in ((1, 2), (2, 3)):
        before = _counts(running, sinks).get("gateway", Counts()).failed
        otlp.send_traces(base, spans)
        # The batch processor may split the spans: wait until the exporter gave up on every one.
        eventually(
            lambda b=before, n=spans: _counts(running, sinks).get("gateway", Counts()).failed >= b + n,
            "the exporter to give up on every span sent",
            deadline_s=30,
        )
        read(f"2026-12-01T12:00:0{second}Z")
    assert flow is not None
    gateway = {s.sink: s for s in flow.sinks}["gateway"]
    assert (gateway.sent, gateway.failed) == (0, 5)
    assert gateway.failing_since == "2026-12-01T12:00:01Z"
    assert gateway.last_failure_time == "2026-12-01T12:00:02Z"
    assert {s.sink: s for s in flow.sinks}["console"].sent == 5, "the debug sink's exports succeed"
    problem = dataflow.issue(flow)
    assert problem is not None
    assert problem.reason == "ExportFailing"
    assert "TelemetrySink/gateway: exports have been failing since 2026-12-01T12:00:01Z" in problem.message
    assert "console" not in problem.message

    with otlp.http_receiver(port=port) as (_, received):
        otlp.send_traces(base, 4)
        eventually(lambda: _counts(running, sinks)["gateway"].sent >= 4, "the spans sent once the receiver is up", 30)
        read("2026-12-01T12:00:03Z")
        assert [r[0] for r in received.received()] == ["/v1/traces"]
    gateway = {s.sink: s for s in flow.sinks}["gateway"]
    assert (gateway.sent, gateway.failed, gateway.failing_since) == (4, 5, None)
    assert gateway.last_failure_time == "2026-12-01T12:00:02Z"
    assert dataflow.issue(flow) is None


def _serve_once(answer: Callable[[socket.socket], None]) -> int:
    """A TCP server on 127.0.0.1 that hands its first connection to ``answer``; its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        with listener:
            conn, _ = listener.accept()
            # The reader hangs up on purpose: sending into that is expected.
            with conn, contextlib.suppress(OSError):
                answer(conn)

    threading.Thread(target=run, daemon=True).start()
    return int(listener.getsockname()[1])


def test_a_collector_read_is_bounded_in_time_and_size() -> None:
    def silent(conn: socket.socket) -> None:
        conn.recv(1024)
        time.sleep(3)

    started = time.monotonic()
    assert collector_metrics.fetch("127.0.0.1", _serve_once(silent), timeout_s=0.5) is None
    assert time.monotonic() - started < 2

    def trickle(conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        for _ in range(20):
            conn.sendall(b"# keep waiting\n")
            time.sleep(0.1)

    started = time.monotonic()
    assert collector_metrics.fetch("127.0.0.1", _serve_once(trickle), timeout_s=0.5) is None
    assert time.monotonic() - started < 1.5

    def huge(conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        conn.sendall(b"#" * (collector_metrics.MAX_BYTES + 1024))

    assert collector_metrics.fetch("127.0.0.1", _serve_once(huge)) is None
    assert collector_metrics.fetch("127.0.0.1", free_port()) is None, "nothing listens"
