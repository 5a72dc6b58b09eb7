"""The one module that talks to the Kubernetes API server.

Server-side apply with one field manager, compare-before-write (a no-op costs no write),
pruning of children that are no longer desired (by owner labels), metadata-only reads of
referenced Secrets, and a count of every request by verb, resource and code. With a
:class:`ChildWatch`, the children's metadata comes from watches instead of a LIST per kind on
every reconcile.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import kubernetes
import urllib3
from kubernetes.client import ApiClient

from vigil import api
from vigil.metrics import API_REQUESTS, CHILD_WATCH_EVENTS
from vigil.models.base import quantity_value

FIELD_MANAGER = "vigil"
DISCOVERY_TTL_S = 30.0
REQUEST_TIMEOUT_S = 30.0
NO_ANSWER = 0
"""KubeError.status when the API server could not be reached at all."""
PARTIAL_LIST = {"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"}
PARTIAL = {"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"}
APPLY_CONCURRENCY = 3
"""Applies of one reconcile in flight at once (the API client's pool keeps this many per handler thread)."""
WATCH_TIMEOUT_S = 300
WATCH_RETRY_S = 1.0

log = logging.getLogger("vigil.k8s")


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
SERVICE = TYPES[("v1", "Service")]
BUILT_IN_GROUPS = ("", "apps", "policy")
ROLLED_LAST = (TYPES[("apps/v1", "Deployment")],)


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

    def __init__(
        self,
        api: ApiClient | None = None,
        discovery_ttl: float = DISCOVERY_TTL_S,
        request_timeout: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.api = api or ApiClient()
        self.discovery_ttl = discovery_ttl
        self.request_timeout = request_timeout
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._discovery: dict[str, tuple[float, set[str]]] = {}
        self.children: ChildWatch | None = None
        """Set by :meth:`watch_children`: children's metadata from watches instead of LISTs."""

    @classmethod
    def from_environment(
        cls, discovery_ttl: float = DISCOVERY_TTL_S, pool_size: int = 10, request_timeout: float = REQUEST_TIMEOUT_S
    ) -> Kube:
        """In-cluster config when running in a pod, else KUBECONFIG / ~/.kube/config.

        ``pool_size`` connections are kept: one per thread that may call at once.
        """
        try:
            kubernetes.config.load_incluster_config()
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()
        configuration = kubernetes.client.Configuration.get_default_copy()
        configuration.connection_pool_maxsize = pool_size
        return cls(ApiClient(configuration), discovery_ttl, request_timeout)

    def watch_children(self, namespaces: Sequence[str] = ()) -> ChildWatch:
        """Keep the metadata of every object Vigil manages current with one watch per kind (in
        ``namespaces``, or cluster-wide), so reconciles read it instead of listing each kind."""
        configuration = copy.deepcopy(self.api.configuration)
        # Its own connections: a watch holds one for minutes, which the handlers' pool cannot spare.
        configuration.connection_pool_maxsize = len(CHILD_TYPES) * max(1, len(namespaces))
        self.children = ChildWatch(Kube(ApiClient(configuration), self.discovery_ttl), tuple(namespaces))
        return self.children

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
            resp = self.api.call_api(method_, url, header_params, body_, _request_timeout=self.request_timeout)
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

    def stream(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Iterator[dict[str, Any]]:
        """The events of a watch on ``path``, decoded, until the server ends it."""
        full = f"{path}?{urlencode({**query, 'watch': '1'})}"
        method, url, header_params, _, _ = self.api.param_serialize(
            "GET", full, header_params=headers, auth_settings=["BearerToken"]
        )
        try:
            resp = self.api.call_api(method, url, header_params, _request_timeout=(30, WATCH_TIMEOUT_S + 30))
        except urllib3.exceptions.HTTPError as exc:
            self._count("watch", path, "none")
            raise KubeError(NO_ANSWER, "watch", path, f"no answer from the API server: {exc}") from exc
        self._count("watch", path, str(resp.status))
        if resp.status >= 400:
            raise KubeError(resp.status, "watch", path, resp.read().decode(errors="replace"))
        pending = b""
        try:
            for chunk in resp.response.stream(64 * 1024, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeError(NO_ANSWER, "watch", path, f"the watch broke: {exc}") from exc
        finally:
            resp.response.release_conn()

    def list(self, rt: ResourceType, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        """Objects of ``rt`` in ``namespace`` carrying every label in ``selector``."""
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        result = self.request("list", "GET", rt.path(namespace), query={"labelSelector": label_selector})
        # Items of a list carry no apiVersion/kind for built-in types; restore them.
        return [{**item, "apiVersion": rt.api_version, "kind": rt.kind} for item in (result or {}).get("items", [])]

    def services_selecting(self, namespace: str, labels: dict[str, str], extra: set[str]) -> tuple[str, ...]:
        """Names of the Services in ``namespace`` whose selector matches pods with ``labels`` only
        thanks to a key in ``extra`` (the labels a spec adds to Vigil's own), sorted."""
        found = []
        for service in self.list(SERVICE, namespace, {}):
            selector = (service.get("spec") or {}).get("selector") or {}
            if selector and set(selector) & extra and all(labels.get(k) == v for k, v in selector.items()):
                found.append(str(service["metadata"]["name"]))
        return tuple(sorted(found))

    def labels_of(self, rt: ResourceType, namespace: str) -> dict[str, dict[str, str]]:
        """The labels of the objects of ``rt`` in ``namespace`` not being deleted, by name (one
        metadata-only LIST)."""
        found = self.request("list", "GET", rt.path(namespace), headers=PARTIAL_LIST) or {}
        return {
            str(m["name"]): dict(m.get("labels") or {})
            for m in (i["metadata"] for i in found.get("items") or [])
            if not m.get("deletionTimestamp")
        }

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

        The owner is the controller in the desired objects' ownerReferences. An object of a
        desired name that another owner (or none) holds is never taken over: NotOwnedError is raised
        before anything is written. Only objects the owner controls are deleted. Kinds the server
        does not serve (no prometheus-operator CRDs) are skipped and reported.
        """
        report = ApplyReport()
        wanted = {(o["apiVersion"], o["kind"], o["metadata"]["name"]): o for o in desired}
        owner = _controller(desired[0]) if desired else None
        plan: list[tuple[ResourceType, dict[str, dict[str, Any] | None], list[str]]] = []
        conflicts: list[Conflict] = []
        for rt in types:
            if not self.served(rt):
                if any((a, k) == (rt.api_version, rt.kind) for a, k, _ in wanted):
                    report.unserved.append(rt)
                continue
            mine = [o for (a, k, _), o in wanted.items() if (a, k) == (rt.api_version, rt.kind)]
            live = self._live_children(rt, namespace, owner_selector, mine)
            current: dict[str, dict[str, Any] | None] = {}
            for obj in mine:
                name = obj["metadata"]["name"]
                found = live.pop(name, None)
                conflict = _conflict(rt, name, found, owner)
                conflicts += [conflict] if conflict else []
                current[name] = found
            plan.append((rt, current, sorted(n for n, o in live.items() if _owned(o, owner))))
        if conflicts:
            raise NotOwnedError(conflicts)
        pending: list[tuple[ResourceType, dict[str, Any]]] = []
        for rt, current, unwanted in plan:
            for name, found in current.items():
                obj = wanted[(rt.api_version, rt.kind, name)]
                if found is not None and contains(found, obj):
                    report.unchanged.append(obj)
                    self._verified(rt, obj, found)
                else:
                    pending.append((rt, obj))
            for name in unwanted:
                self.delete(rt, namespace, name)
                report.deleted.append(f"{rt.kind}/{name}")
        self._apply_in_waves(pending)
        report.applied += [obj for _, obj in pending]
        return report

    def _apply_in_waves(self, pending: Sequence[tuple[ResourceType, dict[str, Any]]]) -> None:
        """Apply ``pending`` a few at a time, Deployments last: what pods read exists (and is
        current) before the pods that read it roll. Raises the first error once its wave is done."""
        waves = [[p for p in pending if p[0] not in ROLLED_LAST], [p for p in pending if p[0] in ROLLED_LAST]]
        for wave in waves:
            if len(wave) <= 1:
                for rt, obj in wave:
                    self._verified(rt, obj, self.apply(obj))
                continue
            with ThreadPoolExecutor(min(len(wave), APPLY_CONCURRENCY)) as pool:
                results = [pool.submit(self.apply, obj) for _, obj in wave]
            for (rt, obj), result in zip(wave, results, strict=True):
                self._verified(rt, obj, result.result())

    def _live_children(
        self, rt: ResourceType, namespace: str, selector: dict[str, str], desired: Sequence[dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """The owner's live children of kind ``rt`` by name, as far as comparing with ``desired`` needs.

        Every desired name is either present (as the object, or as ``desired`` itself when that is
        what it holds) or does not exist: an object of that name the owner does not hold is read
        too, so it is never taken over. Without a synced watch: one LIST, and a GET for each
        desired name it did not return. With one: nothing is read for a child whose resourceVersion
        is the one it had when it was last found to contain the same desired object (it stands for
        itself); one GET for every other desired name. Children that are neither desired nor
        verified appear with their metadata, for pruning.
        """
        watch = self.children
        known = watch.current(rt, namespace, selector) if watch is not None else None
        if watch is None or known is None:
            watch, known = None, {o["metadata"]["name"]: o for o in self.list(rt, namespace, selector)}
        live: dict[str, dict[str, Any]] = {}
        for obj in desired:
            name = obj["metadata"]["name"]
            seen = known.pop(name, None)
            if seen is not None and watch is None:
                live[name] = seen  # listed: the object itself
            elif (
                watch is not None and seen is not None and watch.verified(rt, obj, seen["metadata"]["resourceVersion"])
            ):
                live[name] = obj
            else:
                found = self.get(rt, namespace, name)
                if found is not None:
                    live[name] = found
        live.update(known)
        return live

    def _verified(self, rt: ResourceType, desired: dict[str, Any], live: dict[str, Any]) -> None:
        """Remember that ``live`` (at its resourceVersion) contains ``desired``."""
        version = live.get("metadata", {}).get("resourceVersion")
        if self.children is not None and version and live is not desired and contains(live, desired):
            self.children.remember(rt, desired, str(version))


@dataclass(frozen=True)
class _Seen:
    """What a watch keeps of one child: enough to find it by owner, prune it and tell a change."""

    resource_version: str
    owner: tuple[str, str, str]
    """(namespace, instance label, owner-kind label): the owner selector's values."""
    controller: tuple[tuple[str, Any], ...]
    """The controller ownerReference, as sorted items."""


OWNER_LABELS = (api.MANAGED_BY, api.INSTANCE, api.OWNER_KIND)


def digest(obj: dict[str, Any]) -> str:
    """A short hash of an object as Vigil would apply it."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


class ChildWatch:
    """The metadata of every object Vigil manages, kept current by one watch per child kind.

    A kind is used only while its watch is synced (listed, then followed); until then, and for
    kinds the server does not serve or the operator may not watch, reconciles list as before.
    Alongside, the resourceVersion at which each child was last found to contain (or was written
    with) what was desired: a reconcile that wants the same object again, of a child still at that
    version, needs no read, and a child changed by anyone since is read and compared again.
    """

    def __init__(self, kube: Kube, namespaces: tuple[str, ...] = ()) -> None:
        self.kube = kube
        self.namespaces = namespaces
        self._lock = threading.Lock()
        self._seen: dict[tuple[ResourceType, str, str], _Seen] = {}
        self._by_owner: dict[tuple[ResourceType, tuple[str, str, str]], set[str]] = {}
        self._synced: set[tuple[ResourceType, str]] = set()
        self._started: set[ResourceType] = set()
        self._unwatchable: set[ResourceType] = set()
        self._verified: dict[tuple[ResourceType, str, str], tuple[str, str]] = {}
        self._remembered: dict[tuple[ResourceType, str, str], int] = {}
        """When (by :attr:`_writes`) each verified entry was remembered."""
        self._writes = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        """End the watches (each at its next event or timeout)."""
        self._stop.set()

    # What reconciles ask ----------------------------------------------------------------

    def current(self, rt: ResourceType, namespace: str, selector: dict[str, str]) -> dict[str, dict[str, Any]] | None:
        """Metadata of the children of ``rt`` matching the owner ``selector``, by name; None when
        the watch cannot answer (not synced yet, or not possible) and the caller must list."""
        if set(selector) != set(OWNER_LABELS) or selector[api.MANAGED_BY] != "vigil":
            return None
        self._start(rt)
        scope = namespace if self.namespaces else ""
        owner = (namespace, selector[api.INSTANCE], selector[api.OWNER_KIND])
        with self._lock:
            if (rt, scope) not in self._synced:
                return None
            names = self._by_owner.get((rt, owner), set())
            return {n: self._metadata(rt, namespace, n, self._seen[(rt, namespace, n)]) for n in names}

    def verified(self, rt: ResourceType, desired: dict[str, Any], resource_version: str) -> bool:
        """Whether the child at ``resource_version`` was found to contain exactly ``desired``."""
        key = (rt, desired["metadata"]["namespace"], desired["metadata"]["name"])
        with self._lock:
            return self._verified.get(key) == (digest(desired), resource_version)

    def remember(self, rt: ResourceType, desired: dict[str, Any], resource_version: str) -> None:
        """The child at ``resource_version`` contains ``desired``."""
        key = (rt, desired["metadata"]["namespace"], desired["metadata"]["name"])
        with self._lock:
            self._verified[key] = (digest(desired), resource_version)
            self._writes += 1
            self._remembered[key] = self._writes

    def _metadata(self, rt: ResourceType, namespace: str, name: str, seen: _Seen) -> dict[str, Any]:
        controller = dict(seen.controller)
        return {
            "apiVersion": rt.api_version,
            "kind": rt.kind,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "resourceVersion": seen.resource_version,
                "ownerReferences": [controller] if controller else [],
            },
        }

    # The watches ------------------------------------------------------------------------

    def _start(self, rt: ResourceType) -> None:
        with self._lock:
            if rt in self._started or rt in self._unwatchable:
                return
            self._started.add(rt)
        for scope in self.namespaces or ("",):
            threading.Thread(target=self._follow, args=(rt, scope), daemon=True, name=f"watch-{rt.plural}").start()

    def _follow(self, rt: ResourceType, scope: str) -> None:
        """List, then follow the watch from there. A watch the server ends on time is resumed from
        the last resourceVersion it showed, still synced; one that breaks or is told its version
        is gone (410) starts over from a list, and until then reconciles list for themselves."""
        query = {"labelSelector": f"{api.MANAGED_BY}=vigil"}
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    with self._lock:
                        before_list = self._writes
                    path = rt.path(scope or None)
                    listed = self.kube.request("list", "GET", path, query=query, headers=PARTIAL_LIST) or {}
                    self._replace(rt, scope, listed.get("items") or [], before_list)
                    version = str(listed.get("metadata", {}).get("resourceVersion", ""))
                version = self._watch_from(rt, scope, query, version)
                if version:
                    continue
            except KubeError as exc:
                if exc.status in (401, 403, 404, 405):
                    log.warning("children of kind %s are listed on every reconcile: %s", rt.kind, exc.message)
                    with self._lock:
                        self._unwatchable.add(rt)
                        self._synced.discard((rt, scope))
                    return
                log.debug("watch of %s restarts: %s", rt.plural, exc)
            except (ValueError, KeyError, TypeError) as exc:  # a malformed event: start over from a list
                log.debug("watch of %s restarts: %s", rt.plural, exc)
            version = ""
            with self._lock:
                self._synced.discard((rt, scope))
            self._stop.wait(WATCH_RETRY_S)

    def _watch_from(self, rt: ResourceType, scope: str, query: dict[str, str], version: str) -> str:
        """Apply the events of one watch from ``version``; the last resourceVersion it showed, or
        "" when the server said to list again (an ERROR event: 410 Gone and the like)."""
        watch = {**query, "resourceVersion": version, "allowWatchBookmarks": "true"}
        for event in self.kube.stream(
            rt.path(scope or None), {**watch, "timeoutSeconds": str(WATCH_TIMEOUT_S)}, PARTIAL
        ):
            if self._stop.is_set():
                return version
            if event.get("type") == "ERROR":
                return ""
            self._apply(rt, event)
            version = str((event.get("object") or {}).get("metadata", {}).get("resourceVersion") or version)
        return version

    def _replace(self, rt: ResourceType, scope: str, items: list[dict[str, Any]], before_list: int) -> None:
        with self._lock:
            for key in [k for k in self._seen if k[0] == rt and (not scope or k[1] == scope)]:
                self._forget(key)
            for item in items:
                self._put(rt, item)
            # Children deleted while no watch ran: forget what was verified of them. Not what was
            # written while the list was on its way: the list may predate it, and the watch shows it next.
            for key in [k for k in self._verified if k[0] == rt and (not scope or k[1] == scope)]:
                if key not in self._seen and self._remembered.get(key, 0) <= before_list:
                    del self._verified[key]
                    self._remembered.pop(key, None)
            self._synced.add((rt, scope))

    def _apply(self, rt: ResourceType, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        CHILD_WATCH_EVENTS.labels(rt.kind, str(kind)).inc()
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return  # BOOKMARK: only a newer resourceVersion
        with self._lock:
            if kind == "DELETED":
                self._forget((rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
                self._verified.pop((rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]), None)
                self._remembered.pop((rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]), None)
            else:
                self._put(rt, obj)

    def _put(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        m = obj["metadata"]
        key = (rt, m.get("namespace", ""), m["name"])
        self._forget(key)
        labels = m.get("labels") or {}
        controller: dict[str, Any] = next((r for r in m.get("ownerReferences") or [] if r.get("controller")), {})
        seen = _Seen(
            str(m.get("resourceVersion", "")),
            (key[1], labels.get(api.INSTANCE, ""), labels.get(api.OWNER_KIND, "")),
            tuple(sorted(controller.items())),
        )
        self._seen[key] = seen
        self._by_owner.setdefault((rt, seen.owner), set()).add(key[2])

    def _forget(self, key: tuple[ResourceType, str, str]) -> None:
        seen = self._seen.pop(key, None)
        if seen is not None:
            names = self._by_owner.get((key[0], seen.owner))
            if names is not None:
                names.discard(key[2])
                if not names:
                    del self._by_owner[(key[0], seen.owner)]


def _controller(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The ownerReference of ``obj`` that says controller: true, if any."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


def _owned(obj: dict[str, Any], owner: dict[str, Any] | None) -> bool:
    """Whether ``owner`` controls ``obj``; offline (no owner to point at) nothing is owned."""
    held = _controller(obj)
    return owner is not None and held is not None and held.get("uid") == owner.get("uid")


def _conflict(
    rt: ResourceType, name: str, live: dict[str, Any] | None, owner: dict[str, Any] | None
) -> Conflict | None:
    """Why the object ``name`` that exists as ``live`` is not the owner's to write, or None."""
    if live is None or _owned(live, owner):
        return None
    held = _controller(live)
    if held is None:
        return Conflict(rt.kind, name, "it has no Vigil owner")
    holder = f"{held.get('kind')}/{held.get('name')}"
    earlier = owner is not None and all(held.get(k) == owner.get(k) for k in ("apiVersion", "kind", "name"))
    if earlier:
        return Conflict(rt.kind, name, f"an earlier {holder} that was deleted holds it", stale=True)
    return Conflict(rt.kind, name, f"{holder} holds it")


@dataclass(frozen=True)
class Conflict:
    """A desired child whose name an object of someone else already has."""

    kind: str
    name: str
    holder: str
    """Who holds it, in words: ``MonitoringStack/team-a holds it``."""
    stale: bool = False
    """Held by a deleted object of the owner's kind and name: garbage collection removes it soon."""

    def __str__(self) -> str:
        return f'{self.kind} "{self.name}" exists and {self.holder}'


class NotOwnedError(Exception):
    """Desired children whose names are taken by objects the owner does not control; nothing was written."""

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        self.conflicts = tuple(conflicts)
        super().__init__("; ".join(str(c) for c in self.conflicts))

    @property
    def temporary(self) -> bool:
        """True when every conflict is a deleted predecessor's object, which the garbage collector removes."""
        return all(c.stale for c in self.conflicts)


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
        a, b = quantity_value(desired), quantity_value(str(live))
        return a is not None and a == b
    return False
