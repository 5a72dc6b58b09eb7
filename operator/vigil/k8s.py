"""The one module that talks to the Kubernetes API server.

Server-side apply with one field manager, compare-before-write (a no-op costs no write),
pruning of children that are no longer desired (by owner labels), metadata-only reads of
referenced Secrets, and a count of every request by verb, resource and code.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

import kubernetes
import urllib3
from kubernetes.client import ApiClient

from vigil import api
from vigil.metrics import API_REQUESTS

FIELD_MANAGER = "vigil"
DISCOVERY_TTL_S = 30.0
REQUEST_TIMEOUT_S = 30.0
FINALIZER_ATTEMPTS = 5
Objects = list[dict[str, Any]]
"""Objects as the API server returns them (named here: inside Kube, ``list`` is a method)."""
NO_ANSWER = 0
"""KubeError.status when the API server could not be reached at all."""


@dataclass(frozen=True)
class ResourceType:
    """Where a kind lives in the API."""

    api_version: str
    kind: str
    plural: str
    provider: str = ""
    """The project whose CRD defines the kind, when it is not built in."""

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The REST path of the collection in ``namespace`` (every namespace: None), or of one object."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        out = f"{base}/namespaces/{namespace}/{self.plural}" if namespace else f"{base}/{self.plural}"
        return f"{out}/{name}" if name else out


CHILD_TYPES: tuple[ResourceType, ...] = (
    ResourceType("v1", "ServiceAccount", "serviceaccounts"),
    ResourceType("v1", "ConfigMap", "configmaps"),
    ResourceType("v1", "Service", "services"),
    ResourceType("apps/v1", "Deployment", "deployments"),
    ResourceType("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    ResourceType("monitoring.coreos.com/v1", "ServiceMonitor", "servicemonitors", "prometheus-operator"),
    ResourceType("monitoring.coreos.com/v1", "PrometheusRule", "prometheusrules", "prometheus-operator"),
    ResourceType("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig", "alertmanagerconfigs", "prometheus-operator"),
    ResourceType("grafana.integreatly.org/v1beta1", "GrafanaDashboard", "grafanadashboards", "grafana-operator"),
)
TYPES = {(t.api_version, t.kind): t for t in CHILD_TYPES}
SECRET = ResourceType("v1", "Secret", "secrets")
POD = ResourceType("v1", "Pod", "pods")
"""Listed (never written) to read the collectors' own metrics from their pods."""
VIGIL = {k.kind: ResourceType(k.api_version, k.kind, k.plural) for k in api.KINDS}
CONFIG_MAP = TYPES[("v1", "ConfigMap")]
BUILT_IN_GROUPS = ("", "apps", "policy")


def resource_type(api_version: str, kind: str) -> ResourceType:
    """Where a generated object or one of Vigil's own kinds lives; KeyError for any other kind."""
    for rt in (*CHILD_TYPES, *VIGIL.values()):
        if (rt.api_version, rt.kind) == (api_version, kind):
            return rt
    raise KeyError(f"{kind} ({api_version}) is not a kind Vigil writes")


class KubeError(Exception):
    """A request the API server answered with an error status."""

    def __init__(self, status: int, verb: str, path: str, body: str) -> None:
        try:
            message = json.loads(body).get("message", body)
        except ValueError:
            message = body
        super().__init__(f"{verb} {path}: {status}: {message}")
        self.status = status
        self.message = str(message)

    @property
    def temporary(self) -> bool:
        """Worth retrying later: throttled, conflicting, or a server-side failure."""
        return self.status in (NO_ANSWER, 409, 429) or self.status >= 500


def _resource_of(path: str) -> str:
    parts = [p for p in path.split("?", maxsplit=1)[0].split("/") if p]
    if "namespaces" in parts and len(parts) > parts.index("namespaces") + 2:
        return parts[parts.index("namespaces") + 2]
    return parts[-1] if parts else ""


class Kube:
    """A thin, counted client for the requests Vigil makes."""

    def __init__(self, api: ApiClient | None = None, discovery_ttl: float = DISCOVERY_TTL_S) -> None:
        self.api = api or ApiClient()
        self.discovery_ttl = discovery_ttl
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._discovery: dict[str, tuple[float, set[str]]] = {}

    @classmethod
    def from_environment(cls, discovery_ttl: float = DISCOVERY_TTL_S, pool_size: int = 10) -> Kube:
        """In-cluster config when running in a pod, else KUBECONFIG / ~/.kube/config.

        ``pool_size`` connections are kept: one per thread that may call at once.
        """
        try:
            kubernetes.config.load_incluster_config()
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()
        configuration = kubernetes.client.Configuration.get_default_copy()
        configuration.connection_pool_maxsize = pool_size
        return cls(ApiClient(configuration), discovery_ttl)

    def request(
        self,
        verb: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """Send one request; the decoded JSON body, or None for 404 on reads (and when ``missing_ok``)."""
        full = f"{path}?{urlencode(query)}" if query else path
        header_params = {"Accept": "application/json", **(headers or {})}
        method_, url, header_params, body_, _ = self.api.param_serialize(
            method, full, header_params=header_params, body=body, auth_settings=["BearerToken"]
        )
        try:
            resp = self.api.call_api(method_, url, header_params, body_, _request_timeout=REQUEST_TIMEOUT_S)
            data = resp.read()
        except urllib3.exceptions.HTTPError as exc:
            # Refused, reset or timed out: the same as a 503, worth a quiet retry.
            self._count(verb, path, "none")
            raise KubeError(NO_ANSWER, verb, path, f"no answer from the API server: {exc}") from exc
        self._count(verb, path, str(resp.status))
        if resp.status == 404 and (missing_ok or verb in ("get", "discover")):
            return None
        if resp.status >= 400:
            raise KubeError(resp.status, verb, path, data.decode(errors="replace"))
        return json.loads(data) if data else None

    def _count(self, verb: str, path: str, code: str) -> None:
        with self._lock:
            self.counts[verb] = self.counts.get(verb, 0) + 1
        API_REQUESTS.labels(verb, _resource_of(path), code).inc()

    # Reads -------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        result = self.request("get", "GET", rt.path(namespace, name))
        return dict(result) if result is not None else None

    def list(self, rt: ResourceType, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        """Objects of ``rt`` in ``namespace`` carrying every label in ``selector``."""
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        result = self.request("list", "GET", rt.path(namespace), query={"labelSelector": label_selector})
        # Items of a list carry no apiVersion/kind for built-in types; restore them.
        return [{**item, "apiVersion": rt.api_version, "kind": rt.kind} for item in (result or {}).get("items", [])]

    def list_all(self, rt: ResourceType, namespaces: Sequence[str] = ()) -> Objects:
        """Every object of ``rt`` in ``namespaces`` (none given: in every namespace)."""
        paths = [rt.path(ns) for ns in namespaces] or [rt.path(None)]
        return [item for p in paths for item in (self.request("list", "GET", p) or {}).get("items", [])]

    def any_exist(self, rt: ResourceType, namespaces: Sequence[str] = ()) -> bool:
        """Whether any object of ``rt`` exists, cluster-wide or in one of ``namespaces``."""
        paths = [rt.path(ns) for ns in namespaces] or [rt.path(None)]
        return any((self.request("list", "GET", p, query={"limit": "1"}) or {}).get("items") for p in paths)

    def served(self, rt: ResourceType) -> bool:
        """True when the API server serves ``rt`` (cached for a short while; CRDs come and go)."""
        if rt.group in BUILT_IN_GROUPS:
            return True
        now = time.monotonic()
        cached = self._discovery.get(rt.api_version)
        if cached is None or now - cached[0] > self.discovery_ttl:
            found = self.request("discover", "GET", f"/apis/{rt.api_version}")
            plurals = {r["name"] for r in found.get("resources", [])} if found else set()
            cached = (now, plurals)
            self._discovery[rt.api_version] = cached
        return rt.plural in cached[1]

    def forget_discovery(self) -> None:
        """Re-read discovery on the next call (after installing CRDs, say)."""
        self._discovery.clear()

    def resource_versions(self, namespace: str, refs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """resourceVersion of each referenced (kind, name), None when missing.

        Only metadata is requested (PartialObjectMetadata): Secret values never reach Vigil.
        """
        partial = {"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"}
        out: dict[tuple[str, str], str | None] = {}
        for kind, name in refs:
            rt = SECRET if kind == "Secret" else CONFIG_MAP
            found = self.request("get", "GET", rt.path(namespace, name), headers=partial)
            out[(kind, name)] = found["metadata"]["resourceVersion"] if found else None
        return out

    # Writes ------------------------------------------------------------------------------

    def apply(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply ``obj`` with Vigil's field manager (taking over conflicting fields).

        With ``dry_run`` the server runs every step (defaults, validation, admission) and returns
        the object it would store, storing nothing.
        """
        rt = resource_type(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        result = self.request(
            "dry-run" if dry_run else "apply",
            "PATCH",
            rt.path(meta["namespace"], meta["name"]),
            body=obj,
            query=query,
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        return dict(result)

    def annotate(self, rt: ResourceType, namespace: str, name: str, annotations: dict[str, str]) -> None:
        """Merge ``annotations`` into an object's metadata (used to wake a stack's handlers).

        An object deleted meanwhile is fine: there is nothing left to wake.
        """
        self._merge_patch(rt.path(namespace, name), {"metadata": {"annotations": annotations}})

    def patch_status(self, rt: ResourceType, namespace: str, name: str, fields: dict[str, Any]) -> None:
        """Merge ``fields`` into another object's status; an object deleted meanwhile is fine."""
        self._merge_patch(rt.path(namespace, name) + "/status", {"status": fields})

    def _merge_patch(self, path: str, body: dict[str, Any]) -> None:
        self.request(
            "patch",
            "PATCH",
            path,
            body=body,
            headers={"Content-Type": "application/merge-patch+json"},
            missing_ok=True,
        )

    def remove_finalizer(self, rt: ResourceType, namespace: str, name: str, finalizer: str) -> bool:
        """Take ``finalizer`` off one object; False when it does not carry it (or is gone).

        A JSON patch that first tests the entry, so a finalizer list changed meanwhile is never
        overwritten: the object is read again and the patch retried.
        """
        for _ in range(FINALIZER_ATTEMPTS):
            current = self.get(rt, namespace, name)
            found = list((current or {}).get("metadata", {}).get("finalizers") or [])
            if finalizer not in found:
                return False
            at = f"/metadata/finalizers/{found.index(finalizer)}"
            try:
                self.request(
                    "patch",
                    "PATCH",
                    rt.path(namespace, name),
                    body=[{"op": "test", "path": at, "value": finalizer}, {"op": "remove", "path": at}],
                    headers={"Content-Type": "application/json-patch+json"},
                    missing_ok=True,
                )
            except KubeError as exc:
                if exc.status not in (409, 422):  # 422: the test failed, the list changed
                    raise
                continue
            return True
        raise KubeError(409, "patch", rt.path(namespace, name), f"finalizers kept changing; {finalizer} stays")

    def delete(self, rt: ResourceType, namespace: str, name: str) -> None:
        """Delete one object (background propagation); already gone is fine."""
        self.request(
            "delete",
            "DELETE",
            rt.path(namespace, name),
            body={"propagationPolicy": "Background"},
            missing_ok=True,
        )

    # Children ----------------------------------------------------------------------------

    def reconcile_children(
        self,
        namespace: str,
        owner_selector: dict[str, str],
        desired: Sequence[dict[str, Any]],
        types: Sequence[ResourceType] = CHILD_TYPES,
    ) -> ApplyReport:
        """Make the owner's children exactly ``desired``: apply what differs, delete the rest.

        Kinds the server does not serve (no prometheus-operator CRDs) are skipped and reported.
        """
        report = ApplyReport()
        wanted = {(o["apiVersion"], o["kind"], o["metadata"]["name"]): o for o in desired}
        for rt in types:
            if not self.served(rt):
                if any((a, k) == (rt.api_version, rt.kind) for a, k, _ in wanted):
                    report.unserved.append(rt)
                continue
            live = {o["metadata"]["name"]: o for o in self.list(rt, namespace, owner_selector)}
            for (api_version, kind, name), obj in wanted.items():
                if (api_version, kind) != (rt.api_version, rt.kind):
                    continue
                current = live.pop(name, None)
                if current is not None and contains(current, obj):
                    report.unchanged.append(obj)
                else:
                    self.apply(obj)
                    report.applied.append(obj)
            for name in sorted(live):
                self.delete(rt, namespace, name)
                report.deleted.append(f"{rt.kind}/{name}")
        return report


@dataclass
class ApplyReport:
    """What one reconcile of children did."""

    applied: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unserved: list[ResourceType] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.applied) + len(self.deleted)


_SUFFIX: dict[str, int | Decimal] = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "m": Decimal("0.001"),
    "u": Decimal("0.000001"),
    "n": Decimal("0.000000001"),
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def _quantity(value: str) -> Decimal | None:
    number = value.rstrip("kMGTPEmunKi")
    suffix = value[len(number) :]
    if suffix not in _SUFFIX:
        return None
    try:
        return Decimal(number) * Decimal(_SUFFIX[suffix])
    except InvalidOperation:
        return None


def contains(live: Any, desired: Any) -> bool:
    """True when every field of ``desired`` is present in ``live`` with an equal value.

    Fields the server adds (defaults, status, managedFields) are ignored; quantities compare by
    value ("1024Mi" equals "1Gi", as the API server may normalise them).
    """
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(a, b) for a, b in zip(live, desired, strict=True))
        )
    if desired == live:
        return True
    if isinstance(desired, str) and isinstance(live, str | int):
        a, b = _quantity(desired), _quantity(str(live))
        return a is not None and a == b
    return False
