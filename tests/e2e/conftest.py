"""The e2e tier's cluster and operator: started once for the whole tier, removed before the next tier runs.

The operator is what users install: charts/vigil by Helm, from the operator image `make images`
builds, in a namespace that enforces the restricted Pod Security Standard, watching the cluster.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed test that used the operator reports the end of the operator pod's log (a later test
    may replace the pod, and its log with it); the whole log is kept in the test's tmp_path."""
    report = yield
    vigil = getattr(item, "funcargs", {}).get("vigil")
    if report.when == "call" and report.failed and isinstance(vigil, Release):
        try:
            log = vigil.logs()
        except (RuntimeError, OSError) as exc:
            log = f"the operator pod's log could not be read: {exc}"
        kept = Path(str(item.funcargs.get("tmp_path") or tempfile.mkdtemp(prefix="vigil-e2e-"))) / "operator.log"
        kept.write_text(log)
        report.sections.append(("operator pod log", f"(all of it in {kept})\n" + "\n".join(log.splitlines()[-80:])))
    return report


@pytest.fixture(scope="package")
def vigil(e2e_cluster: E2ECluster) -> Iterator[Release]:
    """The chart installed with this checkout's images; uninstalled at the end, its log free of tracebacks."""
    installed = release.install(e2e_cluster.cp, f"vigil-e2e-{secrets.token_hex(3)}", VALUES)
    try:
        yield installed
        log = installed.logs()
        assert "Traceback" not in log, log[max(0, log.index("Traceback") - 2000) :][:6000]
    finally:
        with contextlib.suppress(HelmError):
            installed.uninstall()
        e2e_cluster.cp.kubectl("delete", "namespace", installed.namespace, "--wait=false", check=False)
