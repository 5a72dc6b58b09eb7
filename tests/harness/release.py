"""The operator as users install it: charts/vigil by Helm, its image from the archives `make images` builds.

Used by the e2e tier (tests/e2e/conftest.py) and `make demo`. The release runs cluster-wide in a
namespace of its own that enforces the restricted Pod Security Standard; its images are the ones
imported into the node (or loaded into kind), never pulled (pull policy Never).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from images import build
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.controlplane import ControlPlane
from tests.harness.helm import CHART, Helm, HelmError

RESTRICTED = "pod-security.kubernetes.io/enforce"
INSTALL_TIMEOUT = "4m"
POD_READY_S = 240.0


def image_values() -> list[str]:
    """`--set` values that point the chart at the images `make images` builds (never pulled)."""
    operator = build.images()["operator"].tag
    repository, _, tag = operator.rpartition(":")
    return [
        f"image.repository={repository}",
        f"image.tag={tag}",
        "image.pullPolicy=Never",
        f"collector.image={build.images()['collector'].tag}",
    ]


class OperatorNotReady(RuntimeError):
    """The operator pod did not become Ready; the message says what the cluster reported."""


@dataclass
class Release:
    """One Helm release of charts/vigil on a cluster, with the values it was installed with."""

    cp: ControlPlane
    helm: Helm
    name: str
    namespace: str
    values: list[str] = field(default_factory=list)

    def install(self, *extra: str) -> None:
        """`helm upgrade --install` with the release's values (and ``extra``), then wait for a Ready pod."""
        self._helm("upgrade", "--install", *extra)

    def upgrade(self, *extra: str) -> None:
        """`helm upgrade` to the release's values plus ``extra``; waits for the new pod to be Ready."""
        self._helm("upgrade", *extra)

    def uninstall(self) -> None:
        """`helm uninstall --wait` (the CRDs stay, as Helm leaves crds/ in place)."""
        self.helm.run("uninstall", self.name, "--namespace", self.namespace, "--wait", "--timeout=2m")

    def _helm(self, verb: str, *args: str) -> None:
        sets = [f"--set={v}" for v in self.values]
        try:
            self.helm.run(
                verb, *args, self.name, str(CHART), "--namespace", self.namespace, *sets,
                "--wait", f"--timeout={INSTALL_TIMEOUT}",
            )  # fmt: skip
        except HelmError as exc:
            raise OperatorNotReady(f"helm {verb} {self.name}: {exc}\n{self.describe()}") from exc
        self.wait_ready()

    def pods(self) -> list[dict[str, Any]]:
        """The operator's pods (terminating ones included)."""
        out = self.cp.kubectl(
            "get", "pods", "-n", self.namespace, "-l", f"app.kubernetes.io/instance={self.name}", "-o", "json"
        )
        return list(json.loads(out.stdout)["items"])

    def pod(self) -> dict[str, Any]:
        """The one operator pod that runs and is Ready (fails when there is not exactly one)."""
        ready = [p for p in self.pods() if _ready(p) and not p["metadata"].get("deletionTimestamp")]
        assert len(ready) == 1, f"expected one Ready operator pod, found {[p['metadata']['name'] for p in ready]}"
        return ready[0]

    def wait_ready(self, not_uid: str | None = None) -> dict[str, Any]:
        """Wait for a single Ready operator pod (another than ``not_uid``) and return it."""
        end = time.monotonic() + POD_READY_S
        while time.monotonic() < end:
            live = [p for p in self.pods() if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in live if _ready(p) and p["metadata"]["uid"] != not_uid]
            if len(ready) == 1 and len(live) == 1:
                return ready[0]
            time.sleep(1)
        raise OperatorNotReady(f"no single Ready operator pod after {POD_READY_S:.0f}s\n{self.describe()}")

    def kill(self) -> str:
        """Delete the operator pod at once (no grace period), as a crash or a lost node would; its uid."""
        pod = self.pod()
        name = pod["metadata"]["name"]
        self.cp.kubectl("delete", "pod", name, "-n", self.namespace, "--grace-period=0", "--force", "--wait=false")
        return str(pod["metadata"]["uid"])

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample on the operator pod's /metrics (through the API server's pod proxy), keyed
        by (name, sorted labels) as Operator.metrics() keys them."""
        pod = self.pod()["metadata"]["name"]
        text = self.cp.kubectl("get", "--raw", f"/api/v1/namespaces/{self.namespace}/pods/{pod}:8080/proxy/metrics")
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.stdout)
            for s in family.samples
        }

    def logs(self) -> str:
        """The logs of the operator pods that run now."""
        return "".join(
            self.cp.kubectl("logs", "-n", self.namespace, p["metadata"]["name"], check=False).stdout
            for p in self.pods()
        )

    def describe(self) -> str:
        """What the cluster says about the operator's pods and namespace (for failure messages)."""
        state = self.cp.kubectl(
            "get", "deployments,replicasets,pods,events", "-n", self.namespace, "-o", "wide", check=False
        )
        return state.stdout + state.stderr


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in pod.get("status", {}).get("conditions", [])
    )


def install(cp: ControlPlane, name: str, values: Sequence[str], namespace: str | None = None) -> Release:
    """The chart installed as release ``name`` into a new restricted namespace (``namespace``, else ``name``)."""
    namespace = namespace or name
    cp.kubectl("create", "namespace", namespace)
    cp.kubectl("label", "namespace", namespace, f"{RESTRICTED}=restricted")
    release = Release(cp, Helm.find(cp.kubeconfig), name, namespace, [*image_values(), *values])
    release.install()
    return release
