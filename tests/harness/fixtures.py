"""Session fixtures for the real programs: the control plane, the e2e cluster (pytest plugin)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from images import build

from tests.harness import node
from tests.harness.cluster import Cluster
from tests.harness.controlplane import ControlPlane, ExistingCluster, start_control_plane
from tests.harness.tools import REQUIRE, find, free_port, require


def own_control_plane(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    """For a fixture: etcd + kube-apiserver + kube-controller-manager on 127.0.0.1, with every CRD
    Vigil uses; stopped afterwards (its logs kept when a test failed)."""
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


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    """The control plane the integration tier shares."""
    yield from own_control_plane(request)


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace, deleted afterwards (the namespace controller empties it)."""
    name = f"t-{secrets.token_hex(4)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


LOCAL_NODE_WAIT_S = 900.0


@dataclass
class E2ECluster:
    """A cluster whose pods really run: the one in KUBECONFIG, or the local node."""

    cp: ControlPlane
    local: bool
    host_ip: str | None
    """The address pods reach this machine at (receivers listen there); None if unknown."""

    @contextlib.contextmanager
    def reach(self, namespace: str, service: str, port: int) -> Iterator[str]:
        """``host:port`` at which this process reaches ``service``'s ``port``.

        On the local node that is the Service's ClusterIP (kube-proxy routes it from the host);
        elsewhere a `kubectl port-forward` to the Service.
        """
        if self.local:
            svc = json.loads(self.cp.kubectl("get", "service", service, "-n", namespace, "-o", "json").stdout)
            yield f"{svc['spec']['clusterIP']}:{port}"
            return
        local_port = free_port()
        forward = subprocess.Popen(
            [str(find("kubectl")), f"--kubeconfig={self.cp.kubeconfig}", "port-forward", "-n", namespace,
             f"service/{service}", f"{local_port}:{port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        try:
            assert forward.stdout is not None
            first = forward.stdout.readline()  # "Forwarding from 127.0.0.1:PORT -> PORT"
            if "Forwarding from" not in first:
                raise RuntimeError(f"kubectl port-forward to {namespace}/{service}:{port} failed: {first}")
            yield f"127.0.0.1:{local_port}"
        finally:
            forward.terminate()
            forward.wait(timeout=10)


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} ({REQUIRE}=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


def _existing_cluster(kubeconfig: str, workdir: Path) -> E2ECluster:
    probe = subprocess.run(
        [str(require("kubectl")), f"--kubeconfig={kubeconfig}", "version", "--request-timeout=5s"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        _unavailable(f"the cluster in KUBECONFIG={kubeconfig} is not reachable: {probe.stderr.strip()[:200]}")
    cp = ExistingCluster(workdir, "", "", Path(kubeconfig))
    cp.install_crds()
    return E2ECluster(cp, local=False, host_ip=os.environ.get("VIGIL_E2E_HOST_IP") or None)


def e2e_cluster_for(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    """For the e2e tier's fixture: the cluster in KUBECONFIG (kind or any), else the local node with
    the images `make images` builds, torn down afterwards."""
    kubeconfig = os.environ.get("KUBECONFIG", "")
    if kubeconfig:
        yield _existing_cluster(kubeconfig, tmp_path_factory.mktemp("e2e"))
        return
    problems = node.missing_requirements()
    if problems:
        _unavailable(f"no KUBECONFIG and the local node cannot run here: {'; '.join(problems)}")
    require("otelcol-vigil")
    built = build.build(["collector", "operator", "pause"], node.IMAGES_DIR)
    archives = tuple(build.images()[name].archive(node.IMAGES_DIR) for name in built if name != "pause")
    # One node per machine: another checkout's e2e run may hold it for a while.
    local = node.start_node(archives, wait_s=LOCAL_NODE_WAIT_S)
    try:
        local.install_crds()
        yield E2ECluster(local, local=True, host_ip=node.NODE_IP)
    finally:
        failed = request.session.testsfailed > 0
        local.stop(keep=failed)
        if failed:
            print(f"\nlocal node logs kept in {local.node_dir.with_name(local.node_dir.name + '-logs')}")


@pytest.fixture
def cluster(control_plane: ControlPlane, namespace: str) -> Cluster:
    """kubectl helpers bound to the test's namespace."""
    return Cluster(control_plane, namespace)
