"""The operator process's own pieces: kopf's retries, the indexes' filter, the changes kopf sees."""

from __future__ import annotations

import itertools

import kopf

from vigil import api
from vigil.handlers import build_registry
from vigil.handlers.sink import WAKE_ANNOTATION
from vigil.operator import Backoffs, configure_kopf
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


def test_a_sink_change_is_a_change_of_the_stacks_it_wakes() -> None:
    settings = kopf.OperatorSettings()
    configure_kopf(settings, Settings())
    essence = settings.persistence.diffbase_storage.build

    def stack(woken_by: str) -> kopf.Body:
        annotations = {f"{api.GROUP}/kopf-managed": "yes", WAKE_ANNOTATION: woken_by}
        return kopf.Body({"metadata": {"name": "st", "annotations": annotations}, "spec": {}})

    # kopf runs a stack's update handler only when its essence changed.
    assert essence(body=stack("gw@1")) != essence(body=stack("gw@2"))
