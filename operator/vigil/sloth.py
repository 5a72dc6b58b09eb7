"""Sloth SLO specs as AlertPolicies: what ``vigil import sloth`` prints.

Reads Sloth's ``prometheus/v1`` spec (``service``, ``labels``, ``slos``) and Sloth's Kubernetes
object (``sloth.slok.dev/v1`` ``PrometheusServiceLevel``, the same spec in camelCase). Each SLO
becomes one AlertPolicy with an ``slo``; every policy is validated by the models before it is
printed, and anything that cannot be carried over is an error or a warning naming the Sloth
field. Pure: documents in, documents and messages out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from vigil import api
from vigil.models.base import LABEL_NAME
from vigil.models.policy import SEVERITY_RANK, URL
from vigil.parse import Parsed, Source, parse_document
from vigil.render import meta

SPEC_VERSION = "prometheus/v1"
CRD_API_VERSION = "sloth.slok.dev/v1"
CRD_KIND = "PrometheusServiceLevel"
DEFAULT_PERIOD = "30d"
"""Sloth's default SLO period (``sloth generate --default-slo-period``)."""
SEVERITIES = tuple(sorted(SEVERITY_RANK, key=lambda s: -SEVERITY_RANK[s]))

# Labels Sloth puts on every alert; kept so Alertmanager routes and silences written for
# Sloth's alerts still match.
SLOTH_ID, SLOTH_SERVICE, SLOTH_SLO, SLOTH_SEVERITY = "sloth_id", "sloth_service", "sloth_slo", "sloth_severity"
DESCRIPTION_ANNOTATION = f"{api.GROUP}/description"

# Sloth annotation keys and the AlertPolicy annotations field they become.
ANNOTATIONS = {
    "summary": "summary",
    "description": "description",
    "runbook": "runbookUrl",
    "runbook_url": "runbookUrl",
    "runbookUrl": "runbookUrl",
}

Style = Literal["spec", "crd"]
# Field names of the two formats: snake_case in prometheus/v1, camelCase in the CRD.
KEYS: dict[Style, dict[str, str]] = {
    "spec": {
        "error_query": "error_query",
        "total_query": "total_query",
        "error_ratio_query": "error_ratio_query",
        "page_alert": "page_alert",
        "ticket_alert": "ticket_alert",
    },
    "crd": {
        "error_query": "errorQuery",
        "total_query": "totalQuery",
        "error_ratio_query": "errorRatioQuery",
        "page_alert": "pageAlert",
        "ticket_alert": "ticketAlert",
    },
}


@dataclass(frozen=True)
class Options:
    """How Sloth's spec maps onto AlertPolicies where Sloth leaves it open."""

    window: str = DEFAULT_PERIOD
    namespace: str | None = None
    severities: Mapping[str, str] = field(default_factory=dict)
    """Sloth severity label values (e.g. ``pageteam``) to Vigil severities."""
    scrape_interval: str | None = None
    sloth_labels: bool = True


@dataclass(frozen=True)
class Note:
    """An error or a warning about one field of one Sloth document."""

    source: Source
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.path}: {self.message}"


@dataclass(frozen=True)
class Imported:
    """One AlertPolicy document and the Sloth SLO it came from."""

    source: Source
    path: str
    slo: str
    policy: dict[str, Any]

    @property
    def origin(self) -> str:
        """Where the SLO was read, e.g. ``slos.yaml:1: slos[0] (requests-availability)``."""
        return f"{self.source}: {self.path} ({self.slo})"


@dataclass
class Result:
    """The AlertPolicies of every SLO read, and what stood in the way."""

    policies: list[Imported] = field(default_factory=list)
    errors: list[Note] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)


class _Reader:
    """Typed reads of one Sloth document that record an error naming the field when wrong."""

    def __init__(self, source: Source, result: Result) -> None:
        self.source = source
        self.result = result

    def error(self, path: str, message: str) -> None:
        self.result.errors.append(Note(self.source, path, message))

    def warn(self, path: str, message: str) -> None:
        self.result.warnings.append(Note(self.source, path, message))

    def mapping(self, value: Any, path: str, *, required: bool = False) -> dict[str, Any] | None:
        if value is None:
            if required:
                self.error(path, "Required value: set it")
            return None
        if not isinstance(value, dict):
            self.error(path, f"Invalid value: {_kind(value)}: expected a mapping")
            return None
        return value

    def string(self, value: Any, path: str, *, required: bool = False) -> str | None:
        if value is None or value == "":
            if required:
                self.error(path, "Required value: set it")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(path, f"Invalid value: {_kind(value)}: expected a string")
            return None
        return str(value)

    def labels(self, value: Any, path: str) -> dict[str, str]:
        found = self.mapping(value, path) or {}
        out: dict[str, str] = {}
        for key, item in found.items():
            text = self.string(item, f"{path}.{key}")
            if not re.fullmatch(LABEL_NAME, str(key)):
                self.error(f"{path}.{key}", f"Invalid value: {key!r}: a Prometheus label name matches {LABEL_NAME}")
            elif text is not None:
                out[str(key)] = text
        return out


def _kind(value: Any) -> str:
    return {list: "a list", dict: "a mapping", bool: "a boolean"}.get(type(value), repr(value))


def import_documents(documents: list[tuple[Source, Any]], options: Options) -> Result:
    """AlertPolicy documents for every SLO in ``documents`` (Sloth specs), with errors and warnings."""
    result = Result()
    for source, doc in documents:
        reader = _Reader(source, result)
        found = _spec_of(doc, reader)
        if found is not None:
            spec, style, namespace = found
            _import_spec(spec, style, namespace or options.namespace, options, reader)
    first: dict[str, Imported] = {}
    for imported in result.policies:
        name = imported.policy["metadata"]["name"]
        if name in first:
            result.errors.append(
                Note(
                    imported.source,
                    f"{imported.path}.name",
                    f'becomes AlertPolicy "{name}" like {first[name].source}: {first[name].path}: '
                    "give the SLOs different names",
                )
            )
        first.setdefault(name, imported)
    return result


def _spec_of(doc: Any, reader: _Reader) -> tuple[dict[str, Any], Style, str | None] | None:
    """The Sloth spec inside ``doc``, its key style and the namespace it names, or None."""
    if not isinstance(doc, dict):
        reader.error("", f"Invalid value: {_kind(doc)}: expected a Sloth spec (a mapping)")
        return None
    if doc.get("apiVersion") == CRD_API_VERSION and doc.get("kind") == CRD_KIND:
        spec = reader.mapping(doc.get("spec"), "spec", required=True)
        metadata = doc.get("metadata")
        namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
        return (spec, "crd", namespace if isinstance(namespace, str) else None) if spec is not None else None
    if doc.get("version") == SPEC_VERSION:
        return doc, "spec", None
    if "apiVersion" in doc:
        reader.error(
            "apiVersion",
            f'Unsupported value: "{doc.get("apiVersion")}" (kind {doc.get("kind")}): expected a Sloth '
            f"spec with version: {SPEC_VERSION}, or apiVersion: {CRD_API_VERSION} and kind: {CRD_KIND}",
        )
    else:
        reader.error(
            "version",
            f'Unsupported value: "{doc.get("version")}": supported values: "{SPEC_VERSION}" (Sloth\'s '
            "Prometheus spec; OpenSLO documents are not imported)",
        )
    return None


@dataclass(frozen=True)
class _Service:
    """What a Sloth spec says for all of its SLOs."""

    name: str
    labels: dict[str, str]
    keys: dict[str, str]
    namespace: str | None


def _import_spec(spec: dict[str, Any], style: Style, namespace: str | None, options: Options, reader: _Reader) -> None:
    base = "spec." if style == "crd" else ""
    name = reader.string(spec.get("service"), f"{base}service", required=True)
    labels = reader.labels(spec.get("labels"), f"{base}labels")
    slos = spec.get("slos")
    if not isinstance(slos, list) or not slos:
        reader.error(f"{base}slos", "Required value: list at least one SLO")
        return
    if name is None:
        return
    service = _Service(name, labels, KEYS[style], namespace)
    for index, slo in enumerate(slos):
        path = f"{base}slos[{index}]"
        found = reader.mapping(slo, path, required=True)
        if found is None:
            continue
        errors_before = len(reader.result.errors)
        doc = _policy(service, found, path, options, reader)
        if doc is None or len(reader.result.errors) > errors_before:
            continue
        checked = parse_document(doc, reader.source)
        if not isinstance(checked, Parsed):
            for problem in checked or []:
                reader.error(path, f"becomes {problem.object}, which is invalid: {problem.path}: {problem.message}")
            continue
        reader.result.policies.append(Imported(reader.source, path, str(found.get("name")), doc))


def _policy(
    service: _Service, slo: dict[str, Any], path: str, options: Options, reader: _Reader
) -> dict[str, Any] | None:
    """The AlertPolicy document of one Sloth SLO, or None when an error was recorded."""
    keys = service.keys
    name = reader.string(slo.get("name"), f"{path}.name", required=True)
    objective = slo.get("objective")
    if isinstance(objective, bool) or not isinstance(objective, int | float):
        reader.error(f"{path}.objective", f"Invalid value: {_kind(objective)}: expected a percentage such as 99.9")
        return None
    queries = _sli(reader.mapping(slo.get("sli"), f"{path}.sli", required=True), f"{path}.sli", keys, reader)
    alerting = reader.mapping(slo.get("alerting"), f"{path}.alerting") or {}
    if name is None or queries is None:
        return None

    labels = {**service.labels, **reader.labels(slo.get("labels"), f"{path}.labels")}
    labels |= reader.labels(alerting.get("labels"), f"{path}.alerting.labels")
    if options.sloth_labels:
        labels |= {SLOTH_ID: f"{service.name}-{name}", SLOTH_SERVICE: service.name, SLOTH_SLO: name}
    slo_out: dict[str, Any] = {"objective": objective, "window": options.window, **queries}
    if options.scrape_interval is not None:
        slo_out["scrapeInterval"] = options.scrape_interval
    for role, key, default in (("page", "page_alert", "critical"), ("ticket", "ticket_alert", "warning")):
        where = f"{path}.alerting.{keys[key]}"
        severity, alert = _alert(
            reader.mapping(alerting.get(keys[key]), where) or {}, where, (role, default), options, reader
        )
        slo_out[f"{role}Severity"] = severity or default
        if alert:
            slo_out[f"{role}Alert"] = alert

    metadata: dict[str, Any] = {"name": meta.object_name(service.name, name)}
    if service.namespace is not None:
        metadata["namespace"] = service.namespace
    description = reader.string(slo.get("description"), f"{path}.description")
    if description is not None:
        metadata["annotations"] = {DESCRIPTION_ANNOTATION: description}
    spec: dict[str, Any] = {"slo": slo_out}
    alert_name = reader.string(alerting.get("name"), f"{path}.alerting.name")
    if alert_name is not None:
        spec["alertName"] = alert_name
    if labels:
        spec["labels"] = labels
    annotations = _annotations(alerting.get("annotations"), f"{path}.alerting.annotations", reader)
    if annotations:
        spec["annotations"] = annotations
    return {"apiVersion": api.API_VERSION, "kind": api.ALERT_POLICY.kind, "metadata": metadata, "spec": spec}


def _sli(sli: dict[str, Any] | None, path: str, keys: dict[str, str], reader: _Reader) -> dict[str, str] | None:
    """The AlertPolicy queries of a Sloth SLI (events or raw)."""
    if sli is None:
        return None
    kinds = [k for k in ("events", "raw", "plugin") if sli.get(k) is not None]
    if len(kinds) != 1:
        reader.error(path, "set exactly one of events, raw or plugin")
        return None
    if kinds[0] == "plugin":
        reader.error(
            f"{path}.plugin",
            "Sloth SLI plugins are not imported: write the plugin's queries as events "
            f"({keys['error_query']} and {keys['total_query']}) or raw ({keys['error_ratio_query']}), "
            "with {{.window}} where the range goes",
        )
        return None
    found = reader.mapping(sli.get(kinds[0]), f"{path}.{kinds[0]}") or {}
    if kinds[0] == "raw":
        ratio = reader.string(
            found.get(keys["error_ratio_query"]), f"{path}.raw.{keys['error_ratio_query']}", required=True
        )
        return {"errorRatioQuery": ratio} if ratio is not None else None
    errors = reader.string(found.get(keys["error_query"]), f"{path}.events.{keys['error_query']}", required=True)
    total = reader.string(found.get(keys["total_query"]), f"{path}.events.{keys['total_query']}", required=True)
    if errors is None or total is None:
        return None
    return {"errorQuery": errors, "totalQuery": total}


def _alert(
    alert: dict[str, Any], path: str, role: tuple[str, str], options: Options, reader: _Reader
) -> tuple[str | None, dict[str, Any]]:
    """The Vigil severity and the pageAlert/ticketAlert settings of a Sloth page or ticket alert.

    ``role`` is ``("page", "critical")`` or ``("ticket", "warning")``: the alert and its default.
    """
    out: dict[str, Any] = {}
    disabled = alert.get("disable", False)
    if not isinstance(disabled, bool):
        reader.error(f"{path}.disable", f"Invalid value: {_kind(disabled)}: expected true or false")
    elif disabled:
        out["disabled"] = True
    labels = reader.labels(alert.get("labels"), f"{path}.labels")
    severity = _severity(labels.pop(api.SEVERITY_LABEL, None), f"{path}.labels.severity", role, options, reader)
    for reserved in (api.ALERTNAME_LABEL, api.NAMESPACE_LABEL, api.POLICY_LABEL):
        if reserved in labels:
            reader.error(
                f"{path}.labels.{reserved}",
                f"{reserved} is set by Vigil on every alert: rename this label (and any route that matches it)",
            )
    if options.sloth_labels:
        labels[SLOTH_SEVERITY] = role[0]
    if labels:
        out["labels"] = labels
    annotations = _annotations(alert.get("annotations"), f"{path}.annotations", reader)
    if annotations:
        out["annotations"] = annotations
    return severity, out


def _severity(value: str | None, path: str, role: tuple[str, str], options: Options, reader: _Reader) -> str | None:
    """A Sloth severity label value as a Vigil severity, through ``options.severities``."""
    if value is None:
        return None
    mapped = options.severities.get(value, value)
    if mapped not in SEVERITIES:
        reader.error(
            path,
            f'"{value}" is not a Vigil severity ({", ".join(SEVERITIES)}): map it, e.g. --severity {value}={role[1]}',
        )
        return None
    if mapped != value:
        reader.warn(
            path,
            f'severity "{value}" becomes "{mapped}": Alertmanager routes and silences that match '
            f'severity="{value}" must match "{mapped}" (or {SLOTH_SEVERITY}="{role[0]}") instead',
        )
    return mapped


def _annotations(value: Any, path: str, reader: _Reader) -> dict[str, str]:
    """The summary, description and runbookUrl among Sloth's free annotations."""
    found = reader.mapping(value, path) or {}
    out: dict[str, str] = {}
    for key, item in found.items():
        text = reader.string(item, f"{path}.{key}")
        target = ANNOTATIONS.get(str(key))
        if text is None:
            continue
        if target is None:
            reader.warn(
                f"{path}.{key}",
                "left out: an AlertPolicy carries the annotations summary, description and runbookUrl only",
            )
        elif target == "runbookUrl" and not re.fullmatch(URL, text):
            reader.warn(f"{path}.{key}", f'left out: "{text}" is not an http(s) URL, which runbookUrl must be')
        else:
            out[target] = text
    return out


def parse_severity_map(pairs: list[str]) -> dict[str, str]:
    """``["pageteam=critical", ...]`` as a mapping; ValueError naming the pair that is wrong."""
    out: dict[str, str] = {}
    for pair in pairs:
        sloth, sep, vigil = pair.partition("=")
        if not sep or not sloth or vigil not in SEVERITIES:
            raise ValueError(
                f"--severity {pair}: expected SLOTH_VALUE=SEVERITY with SEVERITY one of {', '.join(SEVERITIES)}"
            )
        out[sloth] = vigil
    return out
