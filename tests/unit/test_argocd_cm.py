"""deploy/argocd/argocd-cm.yaml carries deploy/argocd/health.lua under a key for every Vigil kind."""

from __future__ import annotations

import yaml
from scripts.argocd_cm import SCRIPT, SNIPPET, render

from vigil.crd import build_crds


def test_the_snippet_is_generated_from_the_script() -> None:
    stale = "deploy/argocd/argocd-cm.yaml is stale: run make argocd-cm"
    assert SNIPPET.read_text() == render(SCRIPT.read_text()), stale


def test_one_health_key_per_kind_each_holding_the_script() -> None:
    data = yaml.safe_load(SNIPPET.read_text())["data"]
    kinds = sorted(crd["spec"]["names"]["kind"] for crd in build_crds())
    assert kinds == ["AlertPolicy", "MonitoringStack", "TelemetrySink"]
    assert sorted(data) == [f"resource.customizations.health.vigil.dev_{k}" for k in kinds]
    assert all(value == SCRIPT.read_text() for value in data.values())


def test_the_script_uses_no_library_argo_cd_does_not_open() -> None:
    # Custom health scripts run without useOpenLibs: base and table only.
    code = "\n".join(line.split("--", 1)[0] for line in SCRIPT.read_text().splitlines())
    for library in ("string.", "math.", "io.", "os.", "debug."):
        assert library not in code, f"health.lua uses {library}*, which Argo CD does not open for custom checks"
