"""handlers/sink.py: a sink change wakes the stacks that select it."""

from __future__ import annotations

import kopf

from vigil import api
from vigil.handlers.sink import WAKE_ANNOTATION, index_sink


def test_the_wake_annotation_is_a_change_kopf_acts_on() -> None:
    # The diff base the operator uses (vigil/operator.py): kopf leaves annotations under a prefix
    # it marked as its own (vigil.dev/kopf-managed) out of the essence it diffs.
    storage = kopf.AnnotationsDiffBaseStorage(prefix=api.GROUP, key="last-handled-configuration")
    metadata = {"name": "shop", "annotations": {f"{api.GROUP}/kopf-managed": "yes"}}
    before = storage.build(body=kopf.Body({"metadata": metadata, "spec": {}}))
    woken = {**metadata, "annotations": {**metadata["annotations"], WAKE_ANNOTATION: "gw@42"}}
    after = storage.build(body=kopf.Body({"metadata": woken, "spec": {}}))
    assert before != after
    assert after["metadata"]["annotations"] == {WAKE_ANNOTATION: "gw@42"}
    # What the old name did: nothing kopf would act on.
    silent = {**metadata, "annotations": {**metadata["annotations"], f"{api.GROUP}/sinks-changed": "gw@42"}}
    assert storage.build(body=kopf.Body({"metadata": silent, "spec": {}})) == before


def test_a_sink_being_deleted_leaves_the_index() -> None:
    doc = {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "TelemetrySink",
        "metadata": {"name": "gw", "namespace": "shop", "labels": {"team": "shop"}},
        "spec": {"signals": ["logs"], "debug": {}},
    }
    assert index_sink(namespace="shop", body=kopf.Body(doc))["shop"]["metadata"]["name"] == "gw"
    deleting = {**doc, "metadata": {**doc["metadata"], "deletionTimestamp": "2026-12-01T12:00:00Z"}}
    assert index_sink(namespace="shop", body=kopf.Body(deleting)) == {}
