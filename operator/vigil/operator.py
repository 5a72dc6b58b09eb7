"""`vigil run`: the operator process: kopf with Vigil's handlers, /metrics, /healthz, /readyz."""

from __future__ import annotations

import contextlib
import http.server
import logging
import secrets
import threading
import time

import kopf
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest

from vigil import api
from vigil.collector_metrics import CollectorMetrics
from vigil.handlers import build_registry
from vigil.handlers.common import INDEXED, handlers_run
from vigil.k8s import VIGIL, Kube, KubeError
from vigil.settings import Settings

log = logging.getLogger("vigil")


class Readiness:
    """Ready means objects can be processed: kopf runs, and its indexes hold every object.

    kopf runs no handler before every index is complete, so the first handler says so. With no
    objects at all no handler runs: then an empty listing (checked now and then) says so.
    """

    CHECK_EVERY_S = 5.0

    def __init__(self, kube: Kube, settings: Settings) -> None:
        self.kopf = threading.Event()
        self._kube, self._namespaces = kube, settings.namespaces
        self._checked = 0.0

    def __call__(self) -> bool:
        if not self.kopf.is_set():
            return False
        if not INDEXED.is_set() and time.monotonic() - self._checked > self.CHECK_EVERY_S:
            self._checked = time.monotonic()
            with contextlib.suppress(KubeError):
                if not any(self._kube.any_exist(VIGIL[k.kind], self._namespaces) for k in api.KINDS):
                    handlers_run()
        return INDEXED.is_set()

    def why_not(self) -> bytes:
        return b"starting\n" if not self.kopf.is_set() else b"waiting for the indexes to hold every object\n"


def _serve(port: int, ready: Readiness) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                code, body, kind = 200, generate_latest(), CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                code, body, kind = 200, b"ok\n", "text/plain"
            elif self.path == "/readyz":
                code = 200 if ready() else 503
                body, kind = (b"ok\n" if code == 200 else ready.why_not()), "text/plain"
            else:
                code, body, kind = 404, b"not found\n", "text/plain"
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)  # noqa: S104 - probes and scrapes
    threading.Thread(target=server.serve_forever, name="vigil-http", daemon=True).start()
    return server


def register_kopf_settings(registry: kopf.OperatorRegistry, vigil: Settings) -> None:
    """Apply ``vigil`` settings to kopf's at startup: storage, watch timeouts, workers, Events."""

    def configure_kopf(settings: kopf.OperatorSettings, **_: object) -> None:
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=api.GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=api.GROUP, key="last-handled-configuration"
        )
        settings.persistence.finalizer = api.FINALIZER
        settings.watching.server_timeout = vigil.watch_server_timeout
        settings.watching.client_timeout = vigil.watch_client_timeout
        settings.watching.connect_timeout = 30
        # kopf runs one worker coroutine per object; until every index holds every object, a worker
        # only waits. Bounding the coroutines let early objects hold every slot while the rest
        # could never be indexed: a deadlock at start with more objects than the limit. The
        # bound belongs where the work is done: the threads that run the (sync) handlers.
        settings.queueing.worker_limit = None
        settings.execution.max_workers = vigil.worker_limit
        settings.posting.level = getattr(logging, vigil.posting_level)
        # With --namespace the operator holds no cluster-wide permission (the chart's Role): kopf
        # must not list namespaces and CRDs cluster-wide, but serve the named namespaces and the
        # kinds discovered at start.
        settings.scanning.disabled = bool(vigil.namespaces)

    kopf.on.startup(registry=registry)(configure_kopf)
    # A private registry does not inherit kopf's default login; use the kubernetes client's.
    kopf.on.login(registry=registry)(kopf.login_via_client)


def peering_priority(settings: Settings) -> int:
    """The priority to peer with: the configured one, else a random one (replicas must not tie)."""
    if settings.priority is not None:
        return settings.priority
    return secrets.randbelow(1_000_000) + 1 if settings.peering else 0


def run(settings: Settings) -> int:
    """Run the operator until interrupted; the process exit code."""
    kopf.configure(
        debug=settings.debug,
        verbose=settings.debug,
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.PLAIN,
    )
    disable_created_metrics()
    registry = build_registry(settings)
    register_kopf_settings(registry, settings)
    # CRDs installed later (prometheus-operator's) are noticed within one drift interval.
    # One connection per handler thread, and a few for timers' reads.
    kube = Kube.from_environment(discovery_ttl=min(30.0, settings.drift_interval), pool_size=settings.worker_limit + 4)
    ready = Readiness(kube, settings)
    server = _serve(settings.metrics_port, ready)
    memo = kopf.Memo(
        kube=kube, settings=settings, secret_versions={}, data_flow={}, collector_metrics=CollectorMetrics(kube)
    )
    priority = peering_priority(settings)
    log.info(
        "vigil operator starting: %s, %s",
        "cluster-wide" if not settings.namespaces else settings.namespaces,
        f"peering {settings.peering!r} with priority {priority}" if settings.peering else "standalone",
    )
    try:
        kopf.run(
            registry=registry,
            clusterwide=not settings.namespaces,
            namespaces=list(settings.namespaces),
            standalone=not settings.peering,
            peering_name=settings.peering or None,
            priority=priority,
            memo=memo,
            ready_flag=ready.kopf,
        )
    finally:
        server.shutdown()
        memo.collector_metrics.close()
    return 0
