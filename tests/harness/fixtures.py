"""Session fixtures for the real programs: the control plane and the collector (pytest plugin)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.harness.controlplane import ControlPlane, start_control_plane
from tests.harness.tools import require


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver + kube-controller-manager on 127.0.0.1, with every CRD Vigil uses."""
    for tool in ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl"):
        require(tool)
    cp = start_control_plane()
    try:
        cp.install_crds()
        yield cp
    finally:
        failed = request.session.testsfailed > 0
        cp.stop(keep=failed)
        if failed:
            print(f"\ncontrol plane logs kept in {cp.workdir}")


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace, deleted afterwards (the namespace controller empties it)."""
    name = f"t-{secrets.token_hex(4)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)
