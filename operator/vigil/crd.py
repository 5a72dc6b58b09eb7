"""CustomResourceDefinitions generated from the models (``vigil crds``, ``make crds``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from vigil import api
from vigil.models.policy import AlertPolicy, AlertPolicySpec, AlertPolicyStatus
from vigil.models.sink import TelemetrySink, TelemetrySinkSpec, TelemetrySinkStatus
from vigil.models.stack import MonitoringStack, MonitoringStackSpec, MonitoringStackStatus

_READY = '.status.conditions[?(@.type=="Ready")].status'


@dataclass(frozen=True)
class Kind:
    """One custom resource kind: its names (vigil.api), its models, and how kubectl shows it."""

    info: api.KindInfo
    model: type[BaseModel]
    spec: type[BaseModel]
    status: type[BaseModel]
    columns: tuple[dict[str, str], ...]
    description: str

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def plural(self) -> str:
        return self.info.plural

    @property
    def crd_name(self) -> str:
        """The CRD's metadata.name, e.g. ``telemetrysinks.vigil.dev``."""
        return self.info.crd_name


KINDS: tuple[Kind, ...] = (
    Kind(
        info=api.TELEMETRY_SINK,
        model=TelemetrySink,
        spec=TelemetrySinkSpec,
        status=TelemetrySinkStatus,
        columns=(
            {"name": "Ready", "type": "string", "jsonPath": _READY},
            {"name": "Type", "type": "string", "jsonPath": ".status.destinationType"},
            {"name": "Signals", "type": "string", "jsonPath": ".spec.signals"},
            {"name": "Used By", "type": "string", "jsonPath": ".status.usedBy"},
        ),
        description="One destination for traces, metrics and/or logs. Becomes an exporter in "
        "every collector whose MonitoringStack selects it.",
    ),
    Kind(
        info=api.MONITORING_STACK,
        model=MonitoringStack,
        spec=MonitoringStackSpec,
        status=MonitoringStackStatus,
        columns=(
            {"name": "Ready", "type": "string", "jsonPath": _READY},
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.collector.replicas"},
            {"name": "Sinks", "type": "integer", "jsonPath": ".status.sinkCount"},
        ),
        description="An OpenTelemetry Collector with its sinks, ServiceMonitors, rules and dashboards.",
    ),
    Kind(
        info=api.ALERT_POLICY,
        model=AlertPolicy,
        spec=AlertPolicySpec,
        status=AlertPolicyStatus,
        columns=(
            {"name": "Ready", "type": "string", "jsonPath": _READY},
            {"name": "Kind", "type": "string", "jsonPath": ".status.alertKind"},
            {"name": "Severity", "type": "string", "jsonPath": ".status.severity"},
        ),
        description="One alert (threshold, ratio, raw PromQL or SLO) and who gets told. Becomes "
        "a PrometheusRule and an AlertmanagerConfig.",
    ),
)

KINDS_BY_NAME = {k.kind: k for k in KINDS}

_DROP = {"title", "additionalProperties", "$defs", "propertyNames"}


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Structural OpenAPI v3 schema of ``model`` as apiextensions.k8s.io/v1 accepts it."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    return _structural(raw, defs)


def _structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = copy.deepcopy(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**copy.deepcopy(target), **node}
    if "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        if len(branches) != 1:
            raise ValueError(f"cannot express union as a structural schema: {branches}")
        if node.get("default", 0) is None:
            del node["default"]
        node = {**_structural(branches[0], defs), **node}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for bound in ("Minimum", "Maximum"):
        # JSON Schema 2020 writes exclusive bounds as numbers; OpenAPI v3 as a flag.
        if isinstance(node.get(f"exclusive{bound}"), int | float) and not isinstance(node[f"exclusive{bound}"], bool):
            node[bound.lower()] = node.pop(f"exclusive{bound}")
            node[f"exclusive{bound}"] = True
    out: dict[str, Any] = {}
    if "patternProperties" in node:
        # Kubernetes has no patternProperties: values via additionalProperties, keys via CEL.
        ((pattern, values),) = node.pop("patternProperties").items()
        node["additionalProperties"] = values
        node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
    validations = list(node.pop("x-kubernetes-validations", []))
    validations += _key_rules(node)
    if node.get("additionalProperties") not in (None, False, True):
        out["additionalProperties"] = _structural(node["additionalProperties"], defs)
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: _structural(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = _structural(value, defs)
        else:
            out[key] = value
    if validations:
        out["x-kubernetes-validations"] = validations
    return out


def _key_rules(node: dict[str, Any]) -> list[dict[str, str]]:
    """CEL rules for the constraints on a map's keys (Kubernetes schemas have no propertyNames)."""
    keys = node.get("propertyNames")
    if not keys:
        return []
    rules = []
    if "enum" in keys:
        allowed = ", ".join(f"'{k}'" for k in keys["enum"])
        rules.append({"rule": f"self.all(k, k in [{allowed}])", "message": f"keys must be one of {allowed}"})
    if "pattern" in keys:
        rules.append(
            {"rule": f"self.all(k, k.matches(r'{keys['pattern']}'))", "message": f"keys must match {keys['pattern']}"}
        )
    if keys.get("minLength"):
        n = keys["minLength"]
        rules.append({"rule": f"self.all(k, size(k) >= {n})", "message": f"keys must be at least {n} characters"})
    if "maxLength" in keys:
        n = keys["maxLength"]
        rules.append({"rule": f"self.all(k, size(k) <= {n})", "message": f"keys must be at most {n} characters"})
    return rules


def build_crd(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition object for ``kind``."""
    root = {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": api.API_VERSION},
            "kind": {"type": "string", "description": kind.kind},
            "metadata": {"type": "object"},
            "spec": openapi_schema(kind.spec),
            # Defaulted when read, so an object no operator has reconciled yet shows
            # observedGeneration 0 (behind generation): kstatus, and so Flux, then call it
            # InProgress instead of Current.
            "status": {**openapi_schema(kind.status), "default": {}},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {api.PART_OF: "vigil"},
        },
        "spec": {
            "group": api.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": [kind.info.short_name],
                "categories": [api.CATEGORY],
            },
            "versions": [
                {
                    "name": api.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        *kind.columns,
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def build_crds() -> list[dict[str, Any]]:
    """Every Vigil CRD, in a stable order."""
    return [build_crd(k) for k in KINDS]
