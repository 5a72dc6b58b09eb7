"""The e2e tier's cluster and operator: started once for the whole tier, removed before the next tier runs.

The operator is what users install: charts/vigil by Helm, from the operator image `make images`
builds, in a namespace that enforces the restricted Pod Security Standard, watching the cluster.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import pytest

from tests.harness import release
from tests.harness.fixtures import E2ECluster, e2e_cluster_for
from tests.harness.helm import HelmError
from tests.harness.release import Release

SECRET_CHECK_S = 2
DATA_FLOW_S = 3
VALUES = (
    f"operator.secretCheckInterval={SECRET_CHECK_S}",
    f"operator.dataFlowInterval={DATA_FLOW_S}",
)


@pytest.fixture(scope="package")
def e2e_cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    """KUBECONFIG's cluster, else the local node (tests/harness/node.py), shared by every e2e test."""
    yield from e2e_cluster_for(request, tmp_path_factory)


@pytest.fixture(scope="package")
def vigil(
    request: pytest.FixtureRequest, e2e_cluster: E2ECluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Release]:
    """The chart installed with this checkout's images; uninstalled at the end, its log free of tracebacks."""
    installed = release.install(e2e_cluster.cp, f"vigil-e2e-{secrets.token_hex(3)}", VALUES)
    try:
        yield installed
        log = installed.logs()
        if request.session.testsfailed:
            kept = tmp_path_factory.mktemp("operator") / "operator.log"
            kept.write_text(log)
            print(f"\nthe operator pod's log is kept in {kept}")
        assert "Traceback" not in log, log[max(0, log.index("Traceback") - 2000) :][:6000]
    finally:
        with contextlib.suppress(HelmError):
            installed.uninstall()
        e2e_cluster.cp.kubectl("delete", "namespace", installed.namespace, "--wait=false", check=False)
