"""What the handlers share: the Vigil kinds, metrics around a reconcile, status and Events."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import hashlib
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from vigil import api, collector_check, status
from vigil.k8s import Kube, KubeError, NotOwnedError
from vigil.metrics import HANDLERS_READY, INDEX_EVENTS, MANAGED, RECONCILE_SECONDS, RECONCILES, WATCH_EVENTS
from vigil.pipeline import Finding
from vigil.render import meta
from vigil.settings import Settings
from vigil.status import Issue

RETRY_DELAY_S = 10

INDEXED = threading.Event()
"""Set once any handler has run: kopf runs handlers only after every index holds every object."""


def handlers_run() -> None:
    """Record that handlers run (the operator can process objects: /readyz may say so)."""
    if not INDEXED.is_set():
        INDEXED.set()
        HANDLERS_READY.set(1)


LIVE: dict[str, Any] = {"field": "metadata.deletionTimestamp", "value": kopf.ABSENT}
"""kopf filter for index handlers: an object being deleted leaves the index at once.

Otherwise a deleted sink stays selectable until its DELETED event arrives, which comes after
the stacks it wakes have reconciled (and never, when a watch expires in between): they kept
exporting to it.
"""


def indexed(kind: str, fn: Callable[..., dict[str | None, Any]]) -> Callable[..., dict[str | None, Any]]:
    """An index function that counts what it takes in (what waits for the indexes to complete)."""

    @functools.wraps(fn)
    def index(**kwargs: Any) -> dict[str | None, Any]:
        INDEX_EVENTS.labels(kind).inc()
        return fn(**kwargs)

    return index


def resource(kind: api.KindInfo, registry: kopf.OperatorRegistry) -> dict[str, Any]:
    """kopf's keyword arguments selecting ``kind``, for handlers in ``registry``."""
    return {"group": api.GROUP, "version": api.VERSION, "plural": kind.plural, "registry": registry}


def register_kind(
    registry: kopf.OperatorRegistry,
    kind: api.KindInfo,
    settings: Settings,
    index: tuple[str, Callable[..., dict[str | None, Any]]],
    reconcile: Callable[..., None],
) -> dict[str, Any]:
    """What every kind has: its index (``(id, function)``), event counts over it, one level-based
    reconcile for create, update and resume, and the drift timer running the same reconcile.

    Returns kopf's arguments selecting the kind, for the handlers only this kind has.
    """
    on = resource(kind, registry)
    index_id, index_fn = index
    kopf.index(**on, **LIVE, id=index_id)(indexed(kind.kind, index_fn))
    kopf.on.event(**on, id="count_event")(count_events(kind.kind, index_id))
    for event in (kopf.on.resume, kopf.on.create, kopf.on.update):
        event(**on, id="reconcile")(reconcile)
    timer(on, "drift", settings.drift_interval, reconcile)
    kopf.on.event(**on, id="stop-timers-when-deleted")(stop_timers_when_deleted)
    return on


def issue(finding: Finding, own: str = "") -> Issue:
    """A render problem as status reports it: its reason, and ``Kind/name: field: message``.

    In the status of ``own`` (``Kind/name``) its own fields need no ``Kind/name``.
    """
    path = finding.path.removeprefix(f"{own}: ") if own else finding.path
    return Issue(finding.reason, f"{path}: {finding.message}")


def spread(interval: float) -> Callable[..., float]:
    """A timer's first delay: between half and all of ``interval``, at a point fixed by the object's uid.

    Objects created (or resumed) together would otherwise tick together, every interval, all at once.
    """

    def delay(*, uid: str | None = None, **_: Any) -> float:
        fraction = int(hashlib.sha256(str(uid).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return interval * (0.5 + fraction / 2)

    return delay


class TimerStops:
    """Stops the timers of deleted objects, which kopf would leave running.

    kopf stops an object's timers when it sees its deletion pending (a deletionTimestamp, which a
    finalizer holds in place). Vigil's objects carry no finalizer, so the watch's DELETED event is
    the only sign of a deletion, and on it kopf forgets the object without stopping its timers:
    they would tick for good, reconciling an object that no longer exists, even in a replica that
    peering has paused. Each tick registers its timer's stopper under the object's uid; the
    DELETED event stops them. A timer still in its first delay at the deletion stops itself at
    its first tick: deleted uids are remembered for twice the longest interval.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stoppers: dict[str, list[Any]] = {}
        self._gone: dict[str, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.keep_s = 0.0

    def ticking(self, uid: str, stopped: Any) -> bool:
        """Whether a tick of the timer of object ``uid`` runs; its timer is stopped if the object is gone.

        ``stopped`` is the handler's ``stopped`` argument: kopf's read-only view of the stopper.
        """
        setter = stopped._setter
        with self._lock:
            if uid not in self._gone:
                # Stoppers set since (a pause in peering stops timers; a resume starts new ones) go.
                known = [s for s in self._stoppers.get(uid, []) if not s.is_set() and s is not setter]
                self._stoppers[uid] = [*known, setter]
                return True
            loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(setter.set, STOPPED_BY_DELETION)
        return False

    def gone(self, uid: str) -> None:
        """Object ``uid`` was deleted: stop its timers. Runs in the event loop."""
        now = time.monotonic()
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._gone[uid] = now
            for old in [u for u, seen in self._gone.items() if now - seen > self.keep_s]:
                del self._gone[old]
            setters = self._stoppers.pop(uid, [])
        for setter in setters:
            setter.set(STOPPED_BY_DELETION)

    def running(self) -> int:
        """How many objects have timers registered (for tests)."""
        with self._lock:
            return len(self._stoppers)


STOPPED_BY_DELETION = kopf.DaemonStoppingReason.RESOURCE_DELETED
TIMERS = TimerStops()


def timer(on: dict[str, Any], id: str, interval: float, fn: Callable[..., object]) -> None:
    """Call ``fn`` every ``interval`` seconds per object, the first time after :func:`spread`.

    kopf puts a finalizer on every object with a timer, and runs no other handler of a new object
    until that patch has come back: a round trip more for each new object, and objects that cannot
    be deleted while the operator is down. A timer of Vigil's needs none: :class:`TimerStops`
    ends it when the object is deleted, and a tick that races the deletion only re-applies
    children the garbage collector removes.
    """

    handler: Callable[..., object]
    if inspect.iscoroutinefunction(fn):

        async def ticks(**kwargs: Any) -> object:
            return await fn(**kwargs) if TIMERS.ticking(kwargs["uid"], kwargs["stopped"]) else None

        handler = ticks
    else:

        def tick(**kwargs: Any) -> object:
            return fn(**kwargs) if TIMERS.ticking(kwargs["uid"], kwargs["stopped"]) else None

        handler = tick

    TIMERS.keep_s = max(TIMERS.keep_s, 2 * interval)
    kopf.timer(**on, id=id, interval=interval, initial_delay=spread(interval))(handler)
    registered = on["registry"]._spawning._handlers
    registered[-1] = dataclasses.replace(registered[-1], requires_finalizer=False)


async def stop_timers_when_deleted(*, type: str, uid: str, **_: Any) -> None:
    """An event handler: a deleted object's timers stop (see :class:`TimerStops`)."""
    if type == "DELETED":
        TIMERS.gone(uid)


def when_deleted(fn: Callable[..., None]) -> Callable[..., Awaitable[None]]:
    """An event handler that runs ``fn`` (in a thread) once the object is gone.

    Objects carry no finalizer (see :func:`timer`), so kopf's on.delete handlers would never run:
    the watch's DELETED event is where a deletion is seen. A failure is not retried; the next
    drift tick (or a resume) of the objects concerned repairs what it should have done.
    """

    async def gone(*, type: str, **kwargs: Any) -> None:
        if type == "DELETED":
            await asyncio.to_thread(fn, **kwargs)

    return gone


def generation(body: kopf.Body) -> int:
    """The object's metadata.generation (what observedGeneration reports)."""
    return int(body.get("metadata", {}).get("generation", 0))


def now() -> str:
    """The current time in RFC 3339, as conditions carry it."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def observed(kind: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Count and time a reconcile; API errors worth retrying, and a collector that gave no verdict,
    become kopf.TemporaryError."""

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def run(**kwargs: Any) -> None:
            handlers_run()
            started = time.monotonic()
            try:
                fn(**kwargs)
            except KubeError as exc:
                RECONCILES.labels(kind, "error").inc()
                raise retry_later(exc) from exc
            except collector_check.NoVerdictError as exc:
                RECONCILES.labels(kind, "error").inc()
                raise kopf.TemporaryError(str(exc), delay=RETRY_DELAY_S) from exc
            except Exception:
                RECONCILES.labels(kind, "error").inc()
                raise
            else:
                RECONCILES.labels(kind, "success").inc()
            finally:
                RECONCILE_SECONDS.labels(kind).observe(time.monotonic() - started)

        return run

    return wrap


def count_events(kind: str, index: str) -> Callable[..., Awaitable[None]]:
    """An event handler counting watch events and the managed objects of ``kind`` (in index ``index``).

    Async on purpose: it runs on the event loop, where kopf updates its indexes, so reading a whole
    index cannot race an update (sync handlers run in threads).
    """

    async def count(**kwargs: Any) -> None:
        handlers_run()
        WATCH_EVENTS.labels(kind).inc()
        MANAGED.labels(kind).set(sum(len(v) for v in kwargs[index].values()))

    return count


def retry_later(exc: KubeError) -> kopf.TemporaryError:
    """Throttling, conflicts, a terminating namespace, missing RBAC: all worth a retry, none a traceback."""
    return kopf.TemporaryError(str(exc), delay=RETRY_DELAY_S if exc.temporary else RETRY_DELAY_S * 6)


def retried(fn: Callable[..., None]) -> Callable[..., None]:
    """For handlers that only talk to the API (no reconcile to count): API errors are retried quietly."""

    @functools.wraps(fn)
    def run(**kwargs: Any) -> None:
        handlers_run()
        try:
            fn(**kwargs)
        except KubeError as exc:
            raise retry_later(exc) from exc

    return run


def report(body: kopf.Body, patch: kopf.Patch, outcome: status.Outcome) -> None:
    """Write the status fields that changed; post an Event when readiness changes."""
    previous = dict(body.get("status") or {})
    new = status.status(previous, outcome, now())
    for key, value in status.changed(previous, new).items():
        patch.status[key] = value
    old_ready: dict[str, Any] = next((c for c in previous.get("conditions", []) if c.get("type") == status.READY), {})
    if outcome.error is not None and (old_ready.get("reason"), old_ready.get("message")) != (
        outcome.error.reason,
        outcome.error.message,
    ):
        kopf.warn(body, reason=outcome.error.reason, message=outcome.error.message)
    for warning in outcome.warnings:
        if warning.message not in _condition_message(previous, status.DEGRADED):
            kopf.warn(body, reason=warning.reason, message=warning.message)


def _condition_message(previous: dict[str, Any], kind: str) -> str:
    return str(
        next(
            (c.get("message", "") for c in previous.get("conditions", []) if c.get("type") == kind),
            "",
        )
    )


def apply_children(kube: Kube, owner: meta.Owner, objects: list[dict[str, Any]]) -> tuple[Issue | None, list[Issue]]:
    """Apply ``objects`` as the owner's only children: (why that failed, what was skipped).

    Kinds whose CRDs are missing are skipped with a warning; an object the API server refuses
    (a webhook, a quota, missing RBAC) is an error for status, and so is a name another owner
    holds (NameConflict: nothing is written). Retryable errors propagate, including names still
    held by a deleted predecessor of the same name, which the garbage collector is removing.
    """
    try:
        report = kube.reconcile_children(owner.namespace, owner.owner_selector(), objects)
    except KubeError as exc:
        if exc.temporary:
            raise
        return Issue("ApplyFailed", f"the API server refused a generated object: {exc}"), []
    except NotOwnedError as exc:
        if exc.temporary:
            raise kopf.TemporaryError(f"waiting for garbage collection: {exc}", delay=RETRY_DELAY_S) from exc
        return Issue("NameConflict", name_conflict_message(owner, exc)), []
    warnings = [
        Issue(
            f"{''.join(p.title() for p in rt.provider.split('-'))}Missing",
            f"{rt.kind} skipped: the API server does not serve {rt.api_version}; install {rt.provider}'s CRDs",
        )
        for rt in report.unserved
    ]
    return None, warnings


def name_conflict_message(owner: meta.Owner, exc: NotOwnedError) -> str:
    """What the owner's status says when generated names are taken: which objects, who holds them,
    what to do (its own field, so no ``Kind/name``)."""
    return (
        f"metadata.name: {exc}: Vigil never takes over an object it does not own, so nothing was applied; "
        f"rename this {owner.kind}, or delete or rename the existing object"
    )
