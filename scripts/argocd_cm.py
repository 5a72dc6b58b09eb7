"""`make argocd-cm`: write deploy/argocd/argocd-cm.yaml, Argo CD's health checks for every Vigil kind.

Each key of the snippet carries deploy/argocd/health.lua verbatim (Argo CD wants one script per
group/kind); tests/tools/test_argocd_health.py fails when the snippet and the script drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vigil.crd import build_crds

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "argocd" / "health.lua"
SNIPPET = ROOT / "deploy" / "argocd" / "argocd-cm.yaml"

HEADER = """\
# Argo CD health checks for Vigil's kinds, generated from health.lua by `make argocd-cm`.
# Merge the keys into Argo CD's argocd-cm ConfigMap, e.g.
#   kubectl -n argocd patch configmap argocd-cm --patch-file deploy/argocd/argocd-cm.yaml
# (with the argo-cd Helm chart, put the same keys under configs.cm). docs/gitops.md explains
# what each health status means.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
"""


def health_keys() -> list[str]:
    """``resource.customizations.health.<group>_<Kind>`` for every Vigil CRD."""
    return [
        f"resource.customizations.health.{crd['spec']['group']}_{crd['spec']['names']['kind']}" for crd in build_crds()
    ]


def render(script: str) -> str:
    """The argocd-cm snippet with ``script`` under every key."""
    body = "".join(f"    {line}\n" if line else "\n" for line in script.splitlines())
    return HEADER + "".join(f"  {key}: |\n{body}" for key in health_keys())


def main() -> int:
    SNIPPET.write_text(render(SCRIPT.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {SNIPPET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
