"""What the handlers share: timers that spread their ticks and hold no finalizer."""

from __future__ import annotations

import uuid

import pytest

from vigil.handlers import build_registry
from vigil.handlers.common import spread
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
