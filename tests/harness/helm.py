"""Run the Helm that `make tools` builds against charts/vigil."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.harness.tools import ROOT, require

CHART = ROOT / "charts" / "vigil"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
# The Kubernetes of the control plane in tools/kube (helm's own default is its client-go's minor).
KUBE_VERSION = "1.36.3"
# The APIs of the operators the chart can integrate with: the control plane serves both.
THIRD_PARTY_APIS = ("monitoring.coreos.com/v1", "grafana.integreatly.org/v1beta1")
TIMEOUT_S = 180


class HelmError(RuntimeError):
    """helm exited non-zero; the message is its stderr."""


@dataclass(frozen=True)
class Helm:
    """The helm binary, with an optional kubeconfig for the commands that talk to a cluster."""

    binary: Path
    kubeconfig: Path | None = None

    @classmethod
    def find(cls, kubeconfig: Path | None = None) -> Helm:
        """The built helm; skips the test (fails in CI) when it is not built."""
        return cls(require("helm"), kubeconfig)

    def run(self, *args: str, home: Path | None = None) -> str:
        """stdout of ``helm args``; HelmError with stderr on failure."""
        argv = [str(self.binary), *args]
        if self.kubeconfig is not None:
            argv.append(f"--kubeconfig={self.kubeconfig}")
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=TIMEOUT_S, env=_env(home))
        if result.returncode != 0:
            raise HelmError(result.stderr.strip())
        return result.stdout

    def template(
        self,
        *,
        release: str = "vigil",
        namespace: str = "vigil-system",
        values: Sequence[Path] = (),
        sets: Sequence[str] = (),
        api_versions: Sequence[str] = THIRD_PARTY_APIS,
        include_crds: bool = False,
        chart: Path = CHART,
    ) -> list[dict[str, Any]]:
        """The objects ``helm template`` renders."""
        args = ["template", release, str(chart), "--namespace", namespace, "--kube-version", KUBE_VERSION]
        args += [f"--values={v}" for v in values] + [f"--set={s}" for s in sets]
        args += [f"--api-versions={a}" for a in api_versions]
        if include_crds:
            args.append("--include-crds")
        return [d for d in yaml.safe_load_all(self.run(*args)) if d]


def _env(home: Path | None) -> dict[str, str]:
    # Helm keeps repositories, caches and plugins under XDG folders: keep them out of $HOME.
    base = home or Path(tempfile.gettempdir()) / "vigil-helm-home"
    return {
        **os.environ,
        "XDG_CACHE_HOME": str(base / "cache"),
        "XDG_CONFIG_HOME": str(base / "config"),
        "XDG_DATA_HOME": str(base / "data"),
    }


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The objects of ``kind``."""
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single object of ``kind``; fails when there are none or several."""
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {[o['metadata']['name'] for o in found]}"
    return found[0]
