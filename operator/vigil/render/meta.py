"""Names, labels and owner references of every generated object: the only place they are spelled."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from vigil.api import API_VERSION, COMPONENT, INSTANCE, MANAGED_BY, NAME, OWNER_KIND, PART_OF

if TYPE_CHECKING:
    from vigil.models.common import ObjectMeta


MAX_NAME = 63
NAME_PREFIX = "vigil-"
"""Starts a derived name whose owner's name starts with a digit (Service names start with a letter)."""
DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def short_hash(text: str, length: int = 8) -> str:
    """A stable hex digest prefix of ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def object_name(*parts: str) -> str:
    """A DNS-1035 label from ``parts`` (at most 63 chars, starting with a letter): valid for every kind.

    ``parts`` joined by '-' when that already is such a label. Otherwise (dots, a leading digit,
    too long) the nearest label plus a hash of the joined text: owners ``team.a`` and ``team-a``
    never share a child name.
    """
    raw = "-".join(p for p in parts if p)
    if len(raw) <= MAX_NAME and DNS_1035.fullmatch(raw):
        return raw
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", raw.lower())).strip("-")
    if not name[:1].isalpha():
        name = NAME_PREFIX + name
    suffix = short_hash(raw)
    return f"{name[: MAX_NAME - len(suffix) - 1].rstrip('-')}-{suffix}"


def label_value(value: str) -> str:
    """``value`` as a valid label value (owner names may be longer than 63 chars)."""
    return object_name(value) if len(value) > MAX_NAME else value


@dataclass(frozen=True)
class Owner:
    """The custom resource that owns generated objects."""

    kind: str
    name: str
    namespace: str
    uid: str | None = None

    def labels(self, component: str) -> dict[str, str]:
        """The standard labels of every object generated for this owner."""
        return {
            MANAGED_BY: "vigil",
            PART_OF: "vigil",
            INSTANCE: label_value(self.name),
            COMPONENT: component,
            OWNER_KIND: self.kind,
        }

    def selector_labels(self, component: str) -> dict[str, str]:
        """The subset of labels that selects this owner's pods (immutable once created)."""
        return {INSTANCE: label_value(self.name), COMPONENT: component, NAME: "vigil-collector"}

    def owner_selector(self) -> dict[str, str]:
        """Labels that find every child of this owner, for pruning."""
        return {MANAGED_BY: "vigil", INSTANCE: label_value(self.name), OWNER_KIND: self.kind}

    def owner_references(self) -> list[dict[str, Any]]:
        """An ownerReference to the CR, or none offline (no uid to point at)."""
        if self.uid is None:
            return []
        return [
            {
                "apiVersion": API_VERSION,
                "kind": self.kind,
                "name": self.name,
                "uid": self.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]


class _Named(Protocol):
    """A parsed Vigil object: its kind and metadata."""

    @property
    def kind(self) -> str: ...

    @property
    def metadata(self) -> ObjectMeta: ...


def owner_of(obj: _Named, uid: str | None) -> Owner:
    """The Owner of everything generated for ``obj`` (no ownerReferences offline, where uid is None)."""
    return Owner(kind=obj.kind, name=obj.metadata.name, namespace=obj.metadata.namespace or "default", uid=uid)


@dataclass(frozen=True)
class ObjectMetaSpec:
    """Inputs to :func:`metadata`."""

    name: str
    component: str
    extra_labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def metadata(owner: Owner, spec: ObjectMetaSpec) -> dict[str, Any]:
    """Complete metadata of a generated object."""
    meta: dict[str, Any] = {
        "name": spec.name,
        "namespace": owner.namespace,
        "labels": {**spec.extra_labels, **owner.labels(spec.component)},
    }
    if spec.annotations:
        meta["annotations"] = dict(spec.annotations)
    refs = owner.owner_references()
    if refs:
        meta["ownerReferences"] = refs
    return meta


def env_name(*parts: str) -> str:
    """An environment variable name (C identifier) from ``parts``: ``VIGIL_<PARTS>``."""
    raw = "_".join(("VIGIL", *parts))
    return re.sub(r"[^A-Z0-9_]", "_", raw.upper())


# Names of the objects generated for a MonitoringStack.
def collector_name(stack: str) -> str:
    """Deployment, Service, ServiceAccount and PDB of a stack's collector."""
    return object_name(stack, "collector")


def collector_config_name(stack: str) -> str:
    """ConfigMap holding the collector's config file."""
    return object_name(stack, "collector-config")


def connection_name(stack: str) -> str:
    """ConfigMap with OTEL_EXPORTER_OTLP_* settings for apps."""
    return object_name(stack, "otlp-connection")


def self_monitor_name(stack: str) -> str:
    """ServiceMonitor for the collector's own metrics."""
    return object_name(stack, "collector-self")


def sink_monitor_name(stack: str, sink: str) -> str:
    """ServiceMonitor for a prometheus sink's scrape endpoint."""
    return object_name(stack, "sink", sink)


def scrape_monitor_name(stack: str, entry: str) -> str:
    """ServiceMonitor for one spec.scrape entry."""
    return object_name(stack, "scrape", entry)


# Prometheus labels on the alerts of an AlertPolicy; Alertmanager routes and inhibits by them.
"""On every alert and recording of a MonitoringStack's rule bundles: ``<namespace>/<stack>``."""
"""A cluster-scope bundle alert's own namespace (its ``namespace`` label names the stack's)."""


def policy_objects_name(policy: str) -> str:
    """PrometheusRule and AlertmanagerConfig of an AlertPolicy (two kinds, one name)."""
    return object_name(policy, "policy")


def stack_rules_name(stack: str) -> str:
    """PrometheusRule holding the rule bundles a MonitoringStack selects."""
    return object_name(stack, "rules")


def stack_alerting_name(stack: str) -> str:
    """AlertmanagerConfig routing the alerts of a MonitoringStack's rule bundles."""
    return object_name(stack, "alerting")
