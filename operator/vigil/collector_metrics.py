"""Read a stack's collectors' own metrics from their pods: the one place Vigil reads a collector.

The pods are listed by the collector's selector labels (through vigil/k8s.py) and each pod IP's
``:8888/metrics`` is read directly: from the operator's pod in a cluster, and from the host on the
local node (whose pod network the host reaches). Every read is bounded: at most MAX_PODS pods per
stack, TIMEOUT_S per pod for the whole exchange, MAX_BYTES per answer, and the reads run in a
thread pool of their own, so an unreachable or slow collector never holds a reconcile's thread.
"""

from __future__ import annotations

import asyncio
import http.client
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vigil import api
from vigil.dataflow import Counts, Reading, parse_metrics, per_sink
from vigil.k8s import POD, Kube
from vigil.metrics import COLLECTOR_READS
from vigil.render import components, meta
from vigil.render.collector import COMPONENT

MAX_PODS = 20
TIMEOUT_S = 2.0
MAX_BYTES = 4 * 1024 * 1024
WORKERS = 4
CHUNK = 64 * 1024


def fetch(address: str, port: int = components.METRICS_PORT, timeout_s: float = TIMEOUT_S) -> str | None:
    """The body of ``http://address:port/metrics``; None when it does not answer 200 in time and size."""
    deadline = time.monotonic() + timeout_s
    conn = http.client.HTTPConnection(address, port, timeout=timeout_s)
    try:
        conn.request("GET", "/metrics", headers={"Accept": "text/plain; version=0.0.4"})
        resp = conn.getresponse()
        if resp.status != 200:
            return None
        body = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or len(body) > MAX_BYTES:
                return None
            if conn.sock is not None:
                conn.sock.settimeout(left)
            chunk = resp.read1(CHUNK)
            if not chunk:
                return body.decode("utf-8", errors="replace")
            body += chunk
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def collector_pods(pods: list[dict[str, Any]], stack: str) -> dict[str, str]:
    """IP by UID of the running pods of ``stack``'s collector ReplicaSets, at most MAX_PODS (by name).

    Pods on the host's network are passed over: their IP is a node's, not a collector's.
    """
    prefix = f"{meta.collector_name(stack)}-"
    found = {}
    for pod in sorted(pods, key=lambda p: str(p["metadata"].get("name", ""))):
        owners = pod["metadata"].get("ownerReferences") or []
        ip = (pod.get("status") or {}).get("podIP")
        if (
            ip
            and (pod.get("status") or {}).get("phase") == "Running"
            and not (pod.get("spec") or {}).get("hostNetwork")
            and any(o.get("kind") == "ReplicaSet" and str(o.get("name", "")).startswith(prefix) for o in owners)
        ):
            found[str(pod["metadata"]["uid"])] = str(ip)
    return dict(list(found.items())[:MAX_PODS])


class CollectorMetrics:
    """Reads the export counters of a stack's collector pods, in a bounded pool of its own."""

    def __init__(self, kube: Kube, workers: int = WORKERS) -> None:
        self._kube = kube
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vigil-collector-metrics")

    async def read(self, namespace: str, stack: str, sinks: list[str]) -> Reading:
        """Counts per sink for every running collector pod of ``stack`` (None for a pod that did not answer).

        Raises KubeError when the pods cannot be listed.
        """
        loop = asyncio.get_running_loop()
        owner = meta.Owner(kind=api.MONITORING_STACK.kind, name=stack, namespace=namespace)
        listed = await loop.run_in_executor(
            self._pool, self._kube.list, POD, namespace, owner.selector_labels(COMPONENT)
        )
        pods = collector_pods(listed, stack)
        bodies = await asyncio.gather(*(loop.run_in_executor(self._pool, fetch, ip) for ip in pods.values()))
        return {uid: self._counts(body, sinks) for uid, body in zip(pods, bodies, strict=True)}

    @staticmethod
    def _counts(body: str | None, sinks: list[str]) -> dict[str, Counts] | None:
        if body is None:
            COLLECTOR_READS.labels("unreachable").inc()
            return None
        try:
            counts = per_sink(parse_metrics(body), sinks)
        except ValueError:
            COLLECTOR_READS.labels("unreadable").inc()
            return None
        COLLECTOR_READS.labels("ok").inc()
        return counts

    def close(self) -> None:
        """Stop the pool (reads in flight finish)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
