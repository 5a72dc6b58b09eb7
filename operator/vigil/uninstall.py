"""`vigil remove-finalizers`: what uninstalling the operator leaves to do.

kopf puts a finalizer (api.FINALIZER) on every Vigil object while the operator runs: its timers
need it to stop cleanly when an object is deleted. Once the operator is uninstalled nothing would
ever take it off, and deleting a TelemetrySink, MonitoringStack or AlertPolicy (or the CRDs)
would hang. The chart runs this as a post-delete hook Job: it waits until the operator's pods
are gone (so none can put a finalizer back), then takes Vigil's finalizer off every object it
watched. Generated objects need nothing: they go with their owner (ownerReferences).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vigil import api
from vigil.k8s import POD, VIGIL, Kube

POLL_S = 2.0


def operator_pods_gone(
    kube: Kube,
    namespace: str,
    selector: dict[str, str],
    deadline_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Wait until no pod in ``namespace`` matches ``selector``; False when some still run at the deadline."""
    end = time.monotonic() + deadline_s
    while kube.list(POD, namespace, selector):
        if time.monotonic() >= end:
            return False
        sleep(POLL_S)
    return True


@dataclass
class Released:
    """The objects whose finalizer was taken off, as ``Kind namespace/name``."""

    objects: list[str] = field(default_factory=list)


def remove_finalizers(kube: Kube, namespaces: Sequence[str] = ()) -> Released:
    """Take Vigil's finalizer off every Vigil object in ``namespaces`` (none given: every namespace)."""
    released = Released()
    for kind in api.KINDS:
        rt = VIGIL[kind.kind]
        for obj in kube.list_all(rt, namespaces):
            meta = obj["metadata"]
            if api.FINALIZER in (meta.get("finalizers") or []) and kube.remove_finalizer(
                rt, meta["namespace"], meta["name"], api.FINALIZER
            ):
                released.objects.append(f"{kind.kind} {meta['namespace']}/{meta['name']}")
    return released
