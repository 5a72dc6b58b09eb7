"""Vigil's one I/O module against a real kube-apiserver: objects that vanish mid-reconcile."""

from __future__ import annotations

import kubernetes
import pytest
import yaml

from tests.harness.controlplane import ControlPlane
from tests.helpers import stack
from vigil.k8s import CONFIG_MAP, VIGIL, Kube, KubeError

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
