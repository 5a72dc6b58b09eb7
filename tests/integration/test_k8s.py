"""Vigil's one I/O module against a real kube-apiserver: objects that vanish mid-reconcile."""

from __future__ import annotations

import time
from typing import Any

import kubernetes
import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.process import eventually
from tests.helpers import sink, stack
from vigil import k8s
from vigil.k8s import CHILD_TYPES, CONFIG_MAP, VIGIL, Kube, KubeError, NotOwnedError
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


# --- never adopt: a desired name held by another owner, or by none, is a conflict ---------------
# Owners are real MonitoringStacks: the garbage collector deletes what points at a missing one.

SELECTOR = {"app.kubernetes.io/managed-by": "vigil", "app.kubernetes.io/instance": "shop"}
KEEP = "test.vigil.dev/keep"


def owner_uid(control_plane: ControlPlane, namespace: str, name: str) -> str:
    """Create MonitoringStack ``name`` (if needed); its uid."""
    doc = stack(name, sinks={"names": ["gw"]})
    doc["metadata"]["namespace"] = namespace
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(doc))
    return control_plane.kubectl("get", "mstack", name, "-n", namespace, "-o", "jsonpath={.metadata.uid}").stdout


def owned_config_map(namespace: str, name: str, uid: str, owner: str = "shop") -> dict[str, Any]:
    """A ConfigMap as Vigil renders it for MonitoringStack ``owner`` with ``uid``."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "vigil", "app.kubernetes.io/instance": owner},
            "ownerReferences": [
                {
                    "apiVersion": "vigil.dev/v1alpha1",
                    "kind": "MonitoringStack",
                    "name": owner,
                    "uid": uid,
                    "controller": True,
                }
            ],
        },
        "data": {"k": "vigil"},
    }


def put(control_plane: ControlPlane, obj: dict[str, Any]) -> None:
    control_plane.kubectl("apply", "--server-side", "--field-manager=someone", "-f", "-", input=yaml.safe_dump(obj))


def test_an_object_without_an_owner_is_never_taken_over(
    kube: Kube, control_plane: ControlPlane, namespace: str
) -> None:
    uid = owner_uid(control_plane, namespace, "shop")
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": namespace}}
    put(control_plane, {**theirs, "data": {"k": "theirs"}})
    desired = [owned_config_map(namespace, "a", uid), owned_config_map(namespace, "b", uid)]
    with pytest.raises(NotOwnedError) as err:
        kube.reconcile_children(namespace, SELECTOR, desired, types=[CONFIG_MAP])
    assert str(err.value) == 'ConfigMap "b" exists and it has no Vigil owner'
    assert not err.value.temporary
    live = kube.get(CONFIG_MAP, namespace, "b") or {}
    assert live["data"] == {"k": "theirs"}
    assert "ownerReferences" not in live["metadata"]
    assert kube.get(CONFIG_MAP, namespace, "a") is None, "nothing may be written when one name is taken"


def test_an_object_of_another_owner_is_never_taken_over_even_with_our_labels(
    kube: Kube, control_plane: ControlPlane, namespace: str
) -> None:
    uid = owner_uid(control_plane, namespace, "shop")
    put(control_plane, owned_config_map(namespace, "a", owner_uid(control_plane, namespace, "other"), owner="other"))
    # Labelled as ours (a tenant may label anything), controlled by another owner.
    disguised = owned_config_map(namespace, "b", owner_uid(control_plane, namespace, "third"), owner="third")
    disguised["metadata"]["labels"] = dict(SELECTOR)
    put(control_plane, disguised)
    with pytest.raises(NotOwnedError) as err:
        kube.reconcile_children(namespace, SELECTOR, [owned_config_map(namespace, "a", uid)], types=[CONFIG_MAP])
    assert str(err.value) == 'ConfigMap "a" exists and MonitoringStack/other holds it'
    # With no conflict, what carries our labels but is not ours is not deleted either.
    kube.reconcile_children(namespace, SELECTOR, [owned_config_map(namespace, "c", uid)], types=[CONFIG_MAP])
    assert kube.get(CONFIG_MAP, namespace, "b") is not None
    assert (kube.get(CONFIG_MAP, namespace, "c") or {})["data"] == {"k": "vigil"}


def test_a_deleted_predecessor_of_the_same_name_is_waited_for(
    kube: Kube, control_plane: ControlPlane, namespace: str
) -> None:
    old = owned_config_map(namespace, "a", owner_uid(control_plane, namespace, "shop"))
    old["metadata"]["finalizers"] = [KEEP]  # the garbage collector must not finish before the check
    put(control_plane, old)
    control_plane.kubectl("delete", "mstack", "shop", "-n", namespace)
    uid = owner_uid(control_plane, namespace, "shop")
    try:
        with pytest.raises(NotOwnedError) as err:
            kube.reconcile_children(namespace, SELECTOR, [owned_config_map(namespace, "a", uid)], types=[CONFIG_MAP])
        assert err.value.temporary
        assert "an earlier MonitoringStack/shop that was deleted holds it" in str(err.value)
    finally:
        control_plane.kubectl(
            "patch",
            "configmap",
            "a",
            "-n",
            namespace,
            "--type=json",
            "-p",
            '[{"op":"remove","path":"/metadata/finalizers"}]',
        )


def test_own_children_are_updated_and_pruned(kube: Kube, control_plane: ControlPlane, namespace: str) -> None:
    uid = owner_uid(control_plane, namespace, "shop")
    both = [owned_config_map(namespace, "a", uid), owned_config_map(namespace, "b", uid)]
    kube.reconcile_children(namespace, SELECTOR, both, types=[CONFIG_MAP])
    changed = owned_config_map(namespace, "a", uid)
    changed["data"] = {"k": "new"}
    report = kube.reconcile_children(namespace, SELECTOR, [changed], types=[CONFIG_MAP])
    assert [o["metadata"]["name"] for o in report.applied] == ["a"]
    assert report.deleted == ["ConfigMap/b"]
    assert (kube.get(CONFIG_MAP, namespace, "a") or {})["data"] == {"k": "new"}


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
        wanted = {t: {o["metadata"]["name"] for o in objects if o["kind"] == t.kind} for t in served}
        # Synced kinds answer (with {} where there is no child); the others answer None.
        eventually(
            lambda: all(
                (shown := children.current(t, namespace, selector)) is not None and set(shown) == wanted[t]
                for t in served
            ),
            "every watch synced and showing every child",
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


def test_a_watch_the_server_ends_on_time_is_resumed_without_a_list(
    kube: Kube, control_plane: ControlPlane, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(k8s, "WATCH_TIMEOUT_S", 1)  # the server ends every watch after a second
    children = kube.watch_children()
    try:
        selector, objects = stack_children(control_plane, kube, namespace)
        kube.reconcile_children(namespace, selector, objects)
        served = [t for t in CHILD_TYPES if kube.served(t)]
        eventually(lambda: all(children.current(t, namespace, selector) is not None for t in served), "synced")
        lists, watches = children.kube.counts.get("list", 0), children.kube.counts.get("watch", 0)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            unsynced = [t.kind for t in served if children.current(t, namespace, selector) is None]
            assert unsynced == [], "a watch renewed on time left its kind unsynced"
            time.sleep(0.05)
        assert children.kube.counts.get("watch", 0) >= watches + 2 * len(served), "the watches were not renewed"
        assert children.kube.counts.get("list", 0) == lists, "a watch renewed on time listed again"
    finally:
        children.stop()
