"""The operator process's own pieces: kopf's retries, the indexes' filter, a /readyz that never waits."""

from __future__ import annotations

import itertools
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import kopf
import pytest

from tests.harness.tools import free_port
from vigil import api
from vigil.handlers import build_registry
from vigil.handlers.common import INDEXED
from vigil.handlers.sink import WAKE_ANNOTATION
from vigil.k8s import Kube
from vigil.metrics import HANDLERS_READY
from vigil.operator import Backoffs, Readiness, _serve, configure_kopf
from vigil.settings import Settings


def test_kopf_retries_an_api_request_without_end_and_each_request_starts_quick() -> None:
    backoffs = Backoffs(first=(1, 2), cap=10)
    assert list(itertools.islice(backoffs, 6)) == [1, 2, 10, 10, 10, 10]
    assert list(itertools.islice(backoffs, 3)) == [1, 2, 10]  # a new request: the quick steps again
    assert sum(itertools.islice(Backoffs(), 100)) > 10 * 60  # far past kopf's own ~1 minute, and on


def test_no_index_holds_an_object_being_deleted() -> None:
    registry = build_registry(Settings())
    handlers = registry._indexing.get_all_handlers()
    assert {h.id for h in handlers} == {"sinks_by_namespace", "stacks_by_namespace", "policies"}
    for handler in handlers:
        assert (handler.field, handler.value) == (("metadata", "deletionTimestamp"), kopf.ABSENT), handler.id


def test_one_handler_per_kind_and_event() -> None:
    # With two, kopf records the first one's success in one write and its status in the next:
    # an operator killed in between left that status unwritten for good.
    registry = build_registry(Settings())
    events = [(h.selector.plural if h.selector else "", str(h.reason)) for h in registry._changing.get_all_handlers()]
    # resume, create and update of three kinds; deletions are seen in watch events (no finalizer).
    assert len(events) == len(set(events)) == 9
    assert not [h for h in registry._changing.get_all_handlers() if h.requires_finalizer]


def test_a_sink_change_is_a_change_of_the_stacks_it_wakes() -> None:
    settings = kopf.OperatorSettings()
    configure_kopf(settings, Settings())
    essence = settings.persistence.diffbase_storage.build

    def stack(woken_by: str) -> kopf.Body:
        annotations = {f"{api.GROUP}/kopf-managed": "yes", WAKE_ANNOTATION: woken_by}
        return kopf.Body({"metadata": {"name": "st", "annotations": annotations}, "spec": {}})

    # kopf runs a stack's update handler only when its essence changed.
    assert essence(body=stack("gw@1")) != essence(body=stack("gw@2"))


class SlowKube(Kube):
    """An API server that takes ``delay`` seconds to say whether anything exists."""

    def __init__(self, delay: float, exists: bool) -> None:
        super().__init__()
        self.delay, self.exists, self.asked = delay, exists, 0

    def any_exist(self, *_: Any, **__: Any) -> bool:
        self.asked += 1
        time.sleep(self.delay)
        return self.exists


@pytest.fixture
def indexed_reset() -> Iterator[None]:
    INDEXED.clear()
    yield
    INDEXED.clear()
    HANDLERS_READY.set(0)


def get(port: int, path: str, timeout: float = 1.0) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_readyz_answers_at_once_while_the_api_server_is_slow(indexed_reset: None) -> None:
    kube = SlowKube(delay=1.0, exists=False)
    ready = Readiness(kube, Settings())
    port = free_port()
    server = _serve(port, ready)
    try:
        ready.start()
        assert get(port, "/readyz") == 503  # kopf not started
        ready.kopf.set()
        started = time.monotonic()
        codes = []
        while time.monotonic() - started < 6:
            codes.append(get(port, "/readyz", timeout=0.5))  # never waits for the 1 s answers
            time.sleep(0.1)
        assert (codes[0], codes[-1]) == (503, 200), codes
        assert kube.asked >= 1
    finally:
        server.shutdown()
