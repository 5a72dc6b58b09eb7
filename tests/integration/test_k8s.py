"""Vigil's one I/O module against a real kube-apiserver: objects that vanish mid-reconcile."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.process import eventually
from tests.helpers import sink, stack
from vigil.k8s import CHILD_TYPES, CONFIG_MAP, VIGIL, Kube, KubeError
from vigil.pipeline import build_from_documents, plan_stack
from vigil.render import meta
from vigil.render.context import RenderContext

MONITORING_STACK = VIGIL["MonitoringStack"]


@pytest.fixture
def kube(control_plane: ControlPlane) -> Kube:
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(str(control_plane.kubeconfig), client_configuration=config)
    return Kube(kubernetes.client.ApiClient(config))


def create_stack(control_plane: ControlPlane, namespace: str) -> None:
    doc = stack("shop", sinks={"names": ["gw"]})
    doc["metadata"]["namespace"] = namespace
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(doc))


def test_waking_a_stack_deleted_meanwhile_is_not_an_error(kube: Kube, namespace: str) -> None:
    # A sink's change wakes the stacks its index knows; one may be gone by the time of the patch.
    kube.annotate(MONITORING_STACK, namespace, "gone", {"vigil.dev/wake": "x@1"})
    assert kube.get(MONITORING_STACK, namespace, "gone") is None


def test_waking_an_existing_stack_sets_the_annotation(kube: Kube, control_plane: ControlPlane, namespace: str) -> None:
    create_stack(control_plane, namespace)
    kube.annotate(MONITORING_STACK, namespace, "shop", {"vigil.dev/wake": "gw@7"})
    live = kube.get(MONITORING_STACK, namespace, "shop") or {}
    assert live["metadata"]["annotations"]["vigil.dev/wake"] == "gw@7"


def test_deleting_what_is_gone_is_fine_but_a_rejected_patch_is_raised(
    kube: Kube, control_plane: ControlPlane, namespace: str
) -> None:
    kube.delete(CONFIG_MAP, namespace, "never-existed")
    create_stack(control_plane, namespace)
    with pytest.raises(KubeError) as err:
        kube.annotate(MONITORING_STACK, namespace, "shop", {"not a valid key!": "x"})
    assert err.value.status == 422


def stack_children(
    control_plane: ControlPlane, kube: Kube, namespace: str
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """A real stack's owner selector and every child the operator would apply for it."""
    create_stack(control_plane, namespace)
    uid = (kube.get(MONITORING_STACK, namespace, "shop") or {})["metadata"]["uid"]
    gw = sink("gw", signals=["traces"], otlp={"endpoint": "gateway:4317"})
    doc = stack("shop", sinks={"names": ["gw"]})
    for d in (gw, doc):
        d["metadata"]["namespace"] = namespace
    build = build_from_documents(doc, [gw])
    assert not isinstance(build, list)
    objects = plan_stack(build, {}, RenderContext(uid=uid)).objects
    return meta.owner_of(build.stack, uid).owner_selector(), objects


def reads(kube: Kube) -> dict[str, int]:
    return {verb: kube.counts.get(verb, 0) for verb in ("list", "get", "apply", "delete")}


def test_children_from_watches_read_only_what_changed(kube: Kube, control_plane: ControlPlane, namespace: str) -> None:
    children = kube.watch_children()
    try:
        selector, objects = stack_children(control_plane, kube, namespace)
        first = kube.reconcile_children(namespace, selector, objects)
        assert len(first.applied) == len(objects)
        rt = CONFIG_MAP
        names = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
        eventually(lambda: set(children.current(rt, namespace, selector) or {}) == names, "the watch sees the children")
        served = [t for t in CHILD_TYPES if kube.served(t)]
        eventually(
            lambda: all(children.current(t, namespace, selector) is not None for t in served), "every watch synced"
        )
        before = reads(kube)
        again = kube.reconcile_children(namespace, selector, objects)
        assert (len(again.applied), len(again.deleted)) == (0, 0)
        assert reads(kube) == before, "an unchanged child at the version it was verified at is not read"
        # Someone edits one child: only that one is read, and it is put back.
        config = next(o for o in objects if o["metadata"]["name"].endswith("-collector-config"))
        name = config["metadata"]["name"]
        control_plane.kubectl("patch", "configmap", name, "-n", namespace, "-p", '{"data":{"collector.yaml":"edited"}}')
        edited = (kube.get(CONFIG_MAP, namespace, name) or {})["metadata"]["resourceVersion"]
        eventually(
            lambda: (
                (children.current(rt, namespace, selector) or {})
                .get(name, {})
                .get("metadata", {})
                .get("resourceVersion")
                == edited
            ),
            "the watch sees the edit",
        )
        before = reads(kube)
        repaired = kube.reconcile_children(namespace, selector, objects)
        assert [o["metadata"]["name"] for o in repaired.applied] == [name]
        assert reads(kube) == {**before, "get": before["get"] + 1, "apply": before["apply"] + 1}
        live = kube.get(CONFIG_MAP, namespace, name) or {}
        assert live["data"] == config["data"]
        # Someone deletes one: it is created again.
        control_plane.kubectl("delete", "configmap", name, "-n", namespace)
        eventually(lambda: name not in (children.current(rt, namespace, selector) or {}), "the watch sees the delete")
        recreated = kube.reconcile_children(namespace, selector, objects)
        assert [o["metadata"]["name"] for o in recreated.applied] == [name]
        # A child no longer desired is deleted, though no LIST ran.
        fewer = [o for o in objects if o["metadata"]["name"] != name]
        eventually(lambda: name in (children.current(rt, namespace, selector) or {}), "the watch sees it back")
        before = reads(kube)
        pruned = kube.reconcile_children(namespace, selector, fewer)
        assert pruned.deleted == [f"ConfigMap/{name}"]
        assert reads(kube)["list"] == before["list"]
        assert kube.get(CONFIG_MAP, namespace, name) is None
    finally:
        children.stop()


def test_without_a_synced_watch_children_are_listed(kube: Kube, control_plane: ControlPlane, namespace: str) -> None:
    selector, objects = stack_children(control_plane, kube, namespace)
    kube.reconcile_children(namespace, selector, objects)
    before = reads(kube)
    again = kube.reconcile_children(namespace, selector, objects)
    assert len(again.unchanged) == len(objects)
    assert reads(kube)["list"] > before["list"]
