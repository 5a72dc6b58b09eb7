"""kubectl helpers bound to one namespace of a real cluster, and the objects tests put there."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.harness.controlplane import ControlPlane

CHILD_KINDS = "serviceaccounts,configmaps,services,deployments,poddisruptionbudgets"
"""The built-in kinds the operator generates for a stack."""


class Cluster:
    """kubectl helpers bound to one namespace."""

    def __init__(self, cp: ControlPlane, namespace: str) -> None:
        self.cp, self.ns = cp, namespace

    def apply(self, *docs: dict[str, Any]) -> None:
        for doc in docs:
            doc["metadata"]["namespace"] = self.ns
        self.cp.kubectl(
            "apply",
            "--server-side",
            "--field-manager=test",
            "-f",
            "-",
            input=yaml.safe_dump_all(docs),
        )

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        out = self.cp.kubectl("get", kind, name, "-n", self.ns, "-o", "json", "--ignore-not-found").stdout
        return json.loads(out) if out.strip() else None

    def children(self, instance: str, kinds: str = CHILD_KINDS + ",servicemonitors") -> dict[str, dict[str, Any]]:
        """Objects of ``kinds`` labelled as generated for ``instance``, by Kind/name."""
        selector = f"app.kubernetes.io/instance={instance}"
        out = self.cp.kubectl("get", kinds, "-n", self.ns, "-l", selector, "-o", "json")
        return {f"{o['kind']}/{o['metadata']['name']}": o for o in json.loads(out.stdout)["items"]}

    def condition(
        self, kind: str, name: str, type_: str = "Ready", obj: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        obj = obj or self.get(kind, name) or {}
        return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), {})

    def ready(self, kind: str, name: str) -> bool:
        obj = self.get(kind, name) or {}
        cond = self.condition(kind, name, obj=obj)
        return cond.get("status") == "True" and cond.get("observedGeneration") == obj["metadata"]["generation"]

    def events(self, name: str) -> list[dict[str, Any]]:
        out = self.cp.kubectl(
            "get",
            "events",
            "-n",
            self.ns,
            "--field-selector",
            f"involvedObject.name={name}",
            "-o",
            "json",
        )
        return list(json.loads(out.stdout)["items"])


def secret(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
