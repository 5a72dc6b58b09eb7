"""Real OTLP from the OpenTelemetry Python SDK, and small OTLP receivers that record requests."""

from __future__ import annotations

import gzip
import http.server
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.harness.tools import free_port

RESOURCE = Resource.create({"service.name": "vigil-dataflow-test"})


def send_traces(base_url: str, count: int, attributes: dict[str, str] | None = None) -> None:
    """Send ``count`` spans to an OTLP/HTTP receiver at ``base_url`` (e.g. http://127.0.0.1:4318)."""
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base_url}/v1/traces", timeout=5)))
    tracer = provider.get_tracer("vigil-tests")
    for i in range(count):
        with tracer.start_as_current_span(f"op-{i}") as span:
            for key, value in (attributes or {}).items():
                span.set_attribute(key, value)
    provider.shutdown()


def send_logs(base_url: str, count: int) -> None:
    """Send ``count`` log records to an OTLP/HTTP receiver."""
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{base_url}/v1/logs", timeout=5))
    )
    logger = provider.get_logger("vigil-tests")
    for i in range(count):
        logger.emit(body=f"log line {i}", severity_text="INFO")
    provider.shutdown()


def send_counter(base_url: str, name: str, value: int, attributes: dict[str, str] | None = None) -> None:
    """Export one counter with ``value`` to an OTLP/HTTP receiver."""
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{base_url}/v1/metrics", timeout=5),
        export_interval_millis=60_000,
    )
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    provider.get_meter("vigil-tests").create_counter(name).add(value, attributes or {})
    provider.force_flush()
    provider.shutdown()


@dataclass
class Recorded:
    """Requests an OTLP test receiver got: (path or method, headers), and each one's body."""

    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, headers: dict[str, str], body: bytes = b"") -> None:
        with self.lock:
            self.requests.append((what, headers))
            self.bodies.append(body)

    def snapshot(self) -> list[tuple[str, dict[str, str]]]:
        with self.lock:
            return list(self.requests)

    def received(self) -> list[tuple[str, dict[str, str], bytes]]:
        """(path or method, headers, body) of every request so far (gzip already undone)."""
        with self.lock:
            return [(what, headers, body) for (what, headers), body in zip(self.requests, self.bodies, strict=True)]


@contextmanager
def http_receiver(host: str = "127.0.0.1", port: int | None = None) -> Iterator[tuple[str, Recorded]]:
    """An OTLP/HTTP endpoint on ``host`` (``port``, else a free one) that records each request's path,
    headers and body and answers 200."""
    recorded = Recorded()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            recorded.add(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    port = port or free_port()
    server = http.server.ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}", recorded
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def grpc_trace_receiver(host: str = "127.0.0.1") -> Iterator[tuple[str, Recorded]]:
    """An OTLP/gRPC trace endpoint on ``host`` that records each call's metadata and request."""
    recorded = Recorded()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: object, context: grpc.ServicerContext) -> object:
            spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)  # type: ignore[attr-defined]
            recorded.add(
                f"Export:{spans}",
                dict(context.invocation_metadata()),
                request.SerializeToString(),  # type: ignore[attr-defined]
            )
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = free_port()
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    try:
        yield f"{host}:{port}", recorded
    finally:
        server.stop(grace=1)
