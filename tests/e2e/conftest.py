"""The e2e tier's cluster: started once for the whole tier, stopped before the next tier runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.fixtures import E2ECluster, e2e_cluster_for


@pytest.fixture(scope="package")
def e2e_cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    """KUBECONFIG's cluster, else the local node (tests/harness/node.py), shared by every e2e test."""
    yield from e2e_cluster_for(request, tmp_path_factory)
