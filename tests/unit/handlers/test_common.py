"""What the handlers share: timers that spread their ticks, hold no finalizer and stop with their object."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid

import kopf
import pytest

from vigil.handlers import build_registry
from vigil.handlers.common import TimerStops, spread
from vigil.settings import Settings

pytestmark = pytest.mark.unit


def test_no_handler_of_the_operator_puts_a_finalizer_on_objects() -> None:
    # A finalizer costs every new object a patch and a round trip before its first reconcile, and
    # blocks deletion while the operator is down.
    registry = build_registry(Settings(drift_interval=300, secret_check_interval=30))
    timers = list(registry._spawning.get_all_handlers())
    assert sorted(h.id for h in timers) == ["data-flow", "drift", "drift", "drift", "secrets"]
    assert [h.requires_finalizer for h in timers] == [False] * 5
    assert not any(h.requires_finalizer for h in registry._changing.get_all_handlers())


def test_first_ticks_spread_over_the_second_half_of_the_interval() -> None:
    delay = spread(300)
    delays = [delay(uid=str(uuid.UUID(int=i * 7919)), name="st") for i in range(1000)]
    assert all(150 <= d <= 300 for d in delays)
    # Spread, not bunched: every tenth of the half-interval gets some of 1,000 objects.
    assert len({int((d - 150) // 15) for d in delays}) >= 10
    assert delay(uid="fixed") == delay(uid="fixed")


class _Stopper:
    """kopf's stopper as a timer sees it: the setter behind the read-only ``stopped`` argument."""

    def __init__(self) -> None:
        self.reason: object = None

    def set(self, reason: object = None) -> None:
        self.reason = reason

    def is_set(self) -> bool:
        return self.reason is not None


class _Stopped:
    def __init__(self) -> None:
        self._setter = _Stopper()


def test_a_deleted_objects_timers_stop_and_never_tick_again() -> None:
    stops = TimerStops()
    stops.keep_s = 60
    drift, secrets_check, other = _Stopped(), _Stopped(), _Stopped()
    assert stops.ticking("uid-1", drift)
    assert stops.ticking("uid-1", secrets_check)
    assert stops.ticking("uid-2", other)

    async def delete() -> None:
        stops.gone("uid-1")
        # A timer still in its first delay ticks later: it stops itself instead of running.
        late = _Stopped()
        assert not stops.ticking("uid-1", late)
        await asyncio.sleep(0)  # the stop is handed to the event loop
        assert late._setter.reason is kopf.DaemonStoppingReason.RESOURCE_DELETED

    asyncio.run(delete())
    assert drift._setter.reason is kopf.DaemonStoppingReason.RESOURCE_DELETED
    assert secrets_check._setter.reason is kopf.DaemonStoppingReason.RESOURCE_DELETED
    assert other._setter.reason is None
    assert stops.running() == 1


def test_stoppers_of_paused_timers_are_not_kept() -> None:
    stops = TimerStops()
    first = _Stopped()
    assert stops.ticking("uid", first)
    first._setter.set("paused")  # peering paused the operator: kopf stopped the timer
    second = _Stopped()
    assert stops.ticking("uid", second)
    assert stops._stoppers["uid"] == [second._setter]


def test_deleted_uids_are_forgotten_after_twice_the_longest_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    stops = TimerStops()
    stops.keep_s = 10
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])

    async def delete() -> None:
        stops.gone("old")
        clock[0] += 11
        stops.gone("new")
        assert stops.ticking("old", _Stopped()), "an old deletion is forgotten"
        assert not stops.ticking("new", _Stopped())

    asyncio.run(delete())


def test_an_async_timer_stays_async_once_wrapped() -> None:
    # Wrapped as a plain function, the data-flow reader would return its coroutine unawaited.
    registry = build_registry(Settings(data_flow_interval=30))
    kinds = {h.id: inspect.iscoroutinefunction(h.fn) for h in registry._spawning.get_all_handlers()}
    assert kinds["data-flow"] is True
    assert kinds["drift"] is False
