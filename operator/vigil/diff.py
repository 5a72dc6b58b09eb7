"""`vigil diff`: what applying a folder of Vigil objects would change on the live cluster.

Every object `vigil render` would produce, and the custom resources themselves, go through a
server-side dry-run apply with Vigil's field manager; the result is compared with the live object,
leaving out what the server maintains (managedFields, resourceVersion, generation, uid, timestamps)
and status. Generated objects are rendered the way the operator would render them now: with the
owner's UID, the versions of the Secrets the collector reads, and the namespace's sinks (live
ones, replaced by the folder's). Generated objects the operator would delete show as removed.

All requests go through :class:`vigil.k8s.Kube`; everything else here is pure.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from vigil import api, collector_check
from vigil.handlers.common import issue
from vigil.k8s import CHILD_TYPES, VIGIL, Kube, KubeError, resource_type
from vigil.models.policy import AlertPolicy
from vigil.offline import process
from vigil.parse import MODELS, Source, parse_as
from vigil.pipeline import build_from_documents, plan_stack, problems_message
from vigil.render import meta
from vigil.render.alerts import render_policy
from vigil.render.components import DEFAULT_COLLECTOR_IMAGE
from vigil.render.context import RenderContext
from vigil.status import Issue

MONITORING_STACK = VIGIL[api.MONITORING_STACK.kind]
TELEMETRY_SINK = VIGIL[api.TELEMETRY_SINK.kind]

SERVER_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")
"""Metadata the API server maintains; it changes without anyone changing the object."""

CRDS_MISSING = (
    "the API server does not serve {api_version}: install Vigil's CRDs first "
    "(vigil crds | kubectl apply --server-side -f -)"
)


@dataclass(frozen=True)
class Change:
    """One object that would change, and the unified diff that shows how."""

    label: str
    diff: str


@dataclass
class DiffReport:
    """Everything `vigil diff` found: changes, what the operator would skip, and errors."""

    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """As ``kubectl diff``: 0 no changes, 1 changes, 2 errors."""
        if self.errors:
            return 2
        return 1 if self.changes else 0


@dataclass(frozen=True)
class DiffSettings:
    """What the operator would render with: its default Prometheus labels and collector check."""

    prometheus_labels: Mapping[str, str] = field(default_factory=dict)
    collector_binary: str = ""
    collector_image: str = DEFAULT_COLLECTOR_IMAGE


class RefusedError(Exception):
    """The operator would not roll this object's children out (it would report Ready=False)."""


# --- pure -------------------------------------------------------------------------------------


def comparable(obj: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``obj`` without status and without the metadata the server maintains."""
    if obj is None:
        return None
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in obj.get("metadata", {}).items() if k not in SERVER_METADATA}
    return out


def object_label(obj: Mapping[str, Any]) -> str:
    """``<group>.<version>.<Kind>.<namespace>.<name>``, as ``kubectl diff`` names its files."""
    md = obj["metadata"]
    return ".".join((obj["apiVersion"].replace("/", "."), obj["kind"], md.get("namespace", ""), md["name"]))


class _Dumper(yaml.SafeDumper):
    """YAML with multi-line strings (collector configs, dashboards) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def to_yaml(obj: Mapping[str, Any] | None) -> str:
    """Stable YAML for a diff: sorted keys, no line wrapping; "" for no object."""
    if obj is None:
        return ""
    return yaml.dump(dict(obj), Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=1 << 20)


def unified(label: str, live: Mapping[str, Any] | None, merged: Mapping[str, Any] | None) -> str:
    """The unified diff from ``live`` to ``merged`` ("" when they are equal)."""
    before, after = to_yaml(comparable(live)), to_yaml(comparable(merged))
    if before == after:
        return ""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"live/{label}",
        tofile=f"merged/{label}",
    )
    return f"diff -u -N live/{label} merged/{label}\n" + "".join(lines)


def vigil_documents(documents: Iterable[tuple[Source, Any]], namespace: str) -> list[dict[str, Any]]:
    """The documents of Vigil's kinds, with ``namespace`` where they name none."""
    out = []
    for _, doc in documents:
        if isinstance(doc, dict) and doc.get("apiVersion") == api.API_VERSION and doc.get("kind") in MODELS:
            md = dict(doc.get("metadata") or {})
            md["namespace"] = md.get("namespace") or namespace
            out.append({**doc, "metadata": md})
    return out


def sink_index_entry(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A sink as the operator's index keeps it (vigil.handlers.sink.index_sink)."""
    md = doc.get("metadata", {})
    return {
        "apiVersion": doc.get("apiVersion"),
        "kind": doc.get("kind"),
        "metadata": {"name": md.get("name"), "namespace": md.get("namespace"), "labels": dict(md.get("labels") or {})},
        "spec": dict(doc.get("spec") or {}),
        "status": {"usedBy": list((doc.get("status") or {}).get("usedBy") or [])},
    }


def describe(issue: Issue) -> str:
    return f"{issue.reason}: {issue.message}"


# --- against the cluster ------------------------------------------------------------------------


def diff_documents(
    kube: Kube, documents: Sequence[tuple[Source, Any]], namespace: str, settings: DiffSettings
) -> DiffReport:
    """Compare what the documents would make of the cluster with what it holds now."""
    report = DiffReport()
    checked = process(documents, namespace)
    if checked.problems:
        report.errors += [str(p) for p in checked.problems]
        return report
    owners = vigil_documents(documents, namespace)
    if not owners:
        report.notes.append("no TelemetrySink, MonitoringStack or AlertPolicy in the input")
        return report
    try:
        if not kube.served(MONITORING_STACK):
            report.errors.append(CRDS_MISSING.format(api_version=MONITORING_STACK.api_version))
            return report
        _Differ(kube, owners, settings, report).run()
    except KubeError as exc:
        report.errors.append(str(exc))
    return report


class _Differ:
    def __init__(self, kube: Kube, owners: list[dict[str, Any]], settings: DiffSettings, report: DiffReport) -> None:
        self.kube, self.owners, self.settings, self.report = kube, owners, settings, report
        self._sinks: dict[str, list[dict[str, Any]]] = {}

    def run(self) -> None:
        for doc in self.owners:
            try:
                self.owner(doc)
            except KubeError as exc:
                if exc.temporary:
                    raise
                self.report.errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")

    def owner(self, doc: dict[str, Any]) -> None:
        md = doc["metadata"]
        kind, name, namespace = doc["kind"], md["name"], md["namespace"]
        live = self.kube.get(resource_type(doc["apiVersion"], kind), namespace, name)
        self.compare(doc, live)
        # A new owner's UID is not known before it exists: its children get ownerReferences then.
        uid = live["metadata"]["uid"] if live else None
        label = f"{kind}/{name}"
        try:
            children = self.children(doc, uid)
        except RefusedError as exc:
            self.report.errors.append(f"{label}: the operator would not roll this out: {exc}")
            return
        except collector_check.NoVerdictError as exc:
            self.report.errors.append(f"{label}: {exc}")
            return
        wanted: set[tuple[str, str, str]] = set()
        for child in children:
            rt = resource_type(child["apiVersion"], child["kind"])
            if not self.kube.served(rt):
                self.report.notes.append(
                    f"{label}: {child['kind']}/{child['metadata']['name']} left out, as the operator would: "
                    f"the API server does not serve {rt.api_version}"
                )
                continue
            wanted.add((child["apiVersion"], child["kind"], child["metadata"]["name"]))
            self.compare(child, self.kube.get(rt, namespace, child["metadata"]["name"]))
        if live is not None:
            self.pruned(meta.Owner(kind, name, namespace, uid), wanted)

    def children(self, doc: dict[str, Any], uid: str | None) -> list[dict[str, Any]]:
        namespace = doc["metadata"]["namespace"]
        ctx = RenderContext(self.settings.prometheus_labels, uid=uid, collector_image=self.settings.collector_image)
        if doc["kind"] == "AlertPolicy":
            parsed = parse_as(doc, AlertPolicy)
            if isinstance(parsed, list):
                raise RefusedError(f"InvalidSpec: {problems_message(parsed)}")
            return render_policy(parsed.model, ctx)
        if doc["kind"] != "MonitoringStack":
            return []
        # The operator's own path: build once, the Secrets' versions, plan, then the collector's verdict.
        build = build_from_documents(doc, self.sinks(namespace))
        if isinstance(build, list):
            raise RefusedError(f"InvalidSpec: {problems_message(build)}")
        refs = build.config.referenced if build.config else ()
        plan = plan_stack(build, self.kube.resource_versions(namespace, refs), ctx)
        if plan.error is not None:
            raise RefusedError(describe(issue(plan.error)))
        refused = collector_check.issue(self.settings.collector_binary, build.config)
        if refused is not None:
            raise RefusedError(describe(refused))
        label = f"MonitoringStack/{doc['metadata']['name']}"
        self.report.notes += [f"{label}: {describe(issue(w))}" for w in plan.warnings]
        return plan.objects

    def sinks(self, namespace: str) -> list[dict[str, Any]]:
        """The sinks a stack would select from after the apply: live ones, replaced by the folder's."""
        if namespace not in self._sinks:
            merged = {s["metadata"]["name"]: sink_index_entry(s) for s in self.kube.list(TELEMETRY_SINK, namespace, {})}
            for doc in self.owners:
                if doc["kind"] == "TelemetrySink" and doc["metadata"]["namespace"] == namespace:
                    merged[doc["metadata"]["name"]] = sink_index_entry(doc)
            self._sinks[namespace] = [merged[n] for n in sorted(merged)]
        return self._sinks[namespace]

    def pruned(self, owner: meta.Owner, wanted: set[tuple[str, str, str]]) -> None:
        """Generated objects the operator would delete: the owner's children no longer rendered."""
        for rt in CHILD_TYPES:
            if not self.kube.served(rt):
                continue
            for obj in self.kube.list(rt, owner.namespace, owner.owner_selector()):
                if (rt.api_version, rt.kind, obj["metadata"]["name"]) not in wanted:
                    self.report.changes.append(Change(object_label(obj), unified(object_label(obj), obj, None)))

    def compare(self, obj: dict[str, Any], live: dict[str, Any] | None) -> None:
        merged = self.kube.apply(obj, dry_run=True)
        text = unified(object_label(obj), live, merged)
        if text:
            self.report.changes.append(Change(object_label(obj), text))
