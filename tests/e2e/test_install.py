"""helm install of charts/vigil: the operator runs as a Ready pod in a restricted namespace, from the local image."""

from __future__ import annotations

import json

import yaml
from images import build

from tests.harness.fixtures import E2ECluster
from tests.harness.release import RESTRICTED, Release


def test_the_operator_pod_is_ready_in_a_namespace_enforcing_restricted(vigil: Release, e2e_cluster: E2ECluster) -> None:
    namespace = json.loads(e2e_cluster.cp.kubectl("get", "namespace", vigil.namespace, "-o", "json").stdout)
    assert namespace["metadata"]["labels"][RESTRICTED] == "restricted"
    pod = vigil.pod()
    (container,) = pod["spec"]["containers"]
    assert container["image"] == build.images()["operator"].tag
    assert container["imagePullPolicy"] == "Never", "the image imported from build/images, never pulled"
    (status,) = pod["status"]["containerStatuses"]
    assert status["ready"] is True
    assert status["restartCount"] == 0, status
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    settings = json.loads(
        e2e_cluster.cp.kubectl("get", "configmap", f"{vigil.name}-settings", "-n", vigil.namespace, "-o", "json").stdout
    )["data"]
    assert settings["VIGIL_COLLECTOR_IMAGE"] == build.images()["collector"].tag
    assert settings["VIGIL_COLLECTOR_BINARY"] == "/usr/local/bin/otelcol-vigil"


def test_the_operator_pod_serves_its_metrics_and_readiness(vigil: Release, e2e_cluster: E2ECluster) -> None:
    # Through the API server's pod proxy: what a kubelet probe and a Prometheus scrape get.
    pod = vigil.pod()["metadata"]["name"]
    base = f"/api/v1/namespaces/{vigil.namespace}/pods/{pod}:8080/proxy"
    assert e2e_cluster.cp.kubectl("get", "--raw", f"{base}/readyz").stdout == "ok\n"
    metrics = e2e_cluster.cp.kubectl("get", "--raw", f"{base}/metrics").stdout
    assert "vigil_handlers_ready 1.0" in metrics


def test_a_pod_that_breaks_the_restricted_profile_is_refused_there(vigil: Release, e2e_cluster: E2ECluster) -> None:
    # The check above can fail: the namespace really enforces the profile.
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "not-restricted", "namespace": vigil.namespace},
        "spec": {"containers": [{"name": "c", "image": build.images()["operator"].tag, "securityContext": {}}]},
    }
    refused = e2e_cluster.cp.kubectl("apply", "-f", "-", input=yaml.safe_dump(privileged), check=False)
    assert refused.returncode != 0
    assert "violates PodSecurity" in refused.stderr, refused.stderr
