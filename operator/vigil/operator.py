"""`vigil run`: the operator process: kopf with Vigil's handlers, /metrics, /healthz, /readyz."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import http.server
import itertools
import logging
import secrets
import threading
from collections.abc import Callable, Iterator

import kopf
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest

from vigil import api
from vigil.collector_metrics import CollectorMetrics
from vigil.handlers import build_registry
from vigil.handlers.common import INDEXED, handlers_run
from vigil.k8s import APPLY_CONCURRENCY, VIGIL, Kube, KubeError
from vigil.settings import Settings

log = logging.getLogger("vigil")


class Backoffs:
    """Seconds between the retries of an API request kopf makes: quick at first, then every ``cap``, without end.

    kopf gives up after its default steps (about a minute). A status patch it gives up on is lost
    until the object changes again, and a watch it gives up on stops every watch of the operator:
    an API server down a little longer (a restart, an upgrade) left objects unprocessed for good.
    A new iterator each time: every request starts with the quick steps.
    """

    def __init__(self, first: tuple[float, ...] = (1, 1, 2, 3, 5, 8), cap: float = 10) -> None:
        self.first, self.cap = first, cap

    def __iter__(self) -> Iterator[float]:
        return itertools.chain(self.first, itertools.repeat(self.cap))


class Readiness:
    """Ready means objects can be processed: kopf runs, and its indexes hold every object.

    kopf runs no handler before every index is complete, so the first handler says so. With no
    objects at all no handler runs: then an empty listing (checked now and then, in the
    background) says so. /readyz answers from memory: a probe must never wait on the API
    server, or a slow network turns into a pod marked unready (and its timeout into a broken pipe).
    """

    CHECK_EVERY_S = 5.0

    def __init__(self, kube: Kube, settings: Settings) -> None:
        self.kopf = threading.Event()
        self._kube, self._namespaces = kube, settings.namespaces

    def start(self) -> None:
        """Look for an empty cluster in the background until handlers run."""
        threading.Thread(target=self._notice_nothing, name="vigil-readiness", daemon=True).start()

    def _notice_nothing(self) -> None:
        self.kopf.wait()
        while not INDEXED.is_set():
            with contextlib.suppress(KubeError):
                if not any(self._kube.any_exist(VIGIL[k.kind], self._namespaces) for k in api.KINDS):
                    handlers_run()
            INDEXED.wait(self.CHECK_EVERY_S)

    def __call__(self) -> bool:
        return self.kopf.is_set() and INDEXED.is_set()

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
            # A prober that gave up has closed the connection: nothing to tell it.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
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


def configure_kopf(settings: kopf.OperatorSettings, vigil: Settings) -> None:
    """kopf's settings from ``vigil``'s: storage, watch timeouts, retries, workers, Events."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=api.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=api.GROUP, key="last-handled-configuration"
    )
    # The name older versions put on objects: kopf takes it off, as no handler here requires one.
    settings.persistence.finalizer = f"{api.GROUP}/finalizer"
    settings.watching.server_timeout = vigil.watch_server_timeout
    settings.watching.client_timeout = vigil.watch_client_timeout
    settings.watching.connect_timeout = 30
    settings.networking.error_backoffs = Backoffs()
    # kopf runs one worker coroutine per object; until every index holds every object, a worker
    # only waits. Bounding the coroutines let early objects hold every slot while the rest
    # could never be indexed: a deadlock at start with more objects than the limit. The
    # bound belongs where the work is done: the threads that run the (sync) handlers.
    settings.queueing.worker_limit = None
    settings.execution.max_workers = vigil.worker_limit
    # A tick that is running when its timer stops (exit, deletion) finishes in this time,
    # instead of being left orphaned in its thread with a warning.
    settings.background.instant_exit_timeout = 2.0
    settings.posting.level = getattr(logging, vigil.posting_level)
    # Watching some namespaces needs no cluster-wide permission (deploy/rbac-namespaced.yaml):
    # no namespace listing, and Vigil's kinds found once at start by discovery, not by watching CRDs.
    settings.scanning.disabled = bool(vigil.namespaces)


def register_kopf_settings(registry: kopf.OperatorRegistry, vigil: Settings) -> None:
    """Apply ``vigil`` settings to kopf's at startup (:func:`configure_kopf`), and log in."""

    def configure(settings: kopf.OperatorSettings, **_: object) -> None:
        configure_kopf(settings, vigil)

    kopf.on.startup(registry=registry)(configure)
    # A private registry does not inherit kopf's default login; use the kubernetes client's.
    kopf.on.login(registry=registry)(kopf.login_via_client)


M_ARENA_MAX = -8
"""mallopt(3) parameter: the most malloc arenas glibc may create."""


def limit_malloc_arenas() -> None:
    """At most two malloc arenas (glibc only; call before threads start).

    glibc gives each thread that allocates its own arena; with the handler threads, the watch
    threads and the API client's, memory freed after a burst (1,000 stacks at once) stays spread
    over a dozen arenas: 156 MiB against 134 MiB after 300 stacks in the benchmark.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        return  # not glibc: nothing to tune


PRIORITY_RANGE = 1_000_000


def peering_priority(settings: Settings, draw: Callable[[int], int] = secrets.randbelow) -> int:
    """The priority to peer with: the configured one (the chart gives each replica its pod index),
    else one drawn from 1..PRIORITY_RANGE: kopf pauses every operator of a tied priority."""
    if settings.priority is not None:
        return settings.priority
    return draw(PRIORITY_RANGE) + 1 if settings.peering else 0


def run(settings: Settings) -> int:
    """Run the operator until interrupted; the process exit code."""
    kopf.configure(
        debug=settings.debug,
        verbose=settings.debug,
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.PLAIN,
    )
    disable_created_metrics()
    limit_malloc_arenas()  # before any thread starts
    registry = build_registry(settings)
    register_kopf_settings(registry, settings)
    # CRDs installed later (prometheus-operator's) are noticed within one drift interval.
    # Connections for every apply a handler thread has in flight, and a few for timers' reads.
    kube = Kube.from_environment(
        discovery_ttl=min(30.0, settings.drift_interval),
        pool_size=settings.worker_limit * APPLY_CONCURRENCY + 4,
        request_timeout=settings.request_timeout,
    )
    # Children's metadata from watches: a reconcile reads only what changed, and lists nothing.
    children = kube.watch_children(settings.namespaces)
    ready = Readiness(kube, settings)
    ready.start()
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
            # Every handler of an event in one cycle, then one patch: kopf's default runs one
            # handler per cycle, a patch and a round trip each (a new sink has two).
            lifecycle=kopf.lifecycles.all_at_once,
        )
    finally:
        children.stop()
        server.shutdown()
        memo.collector_metrics.close()
    return 0
