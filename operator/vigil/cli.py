"""The ``vigil`` command: render, validate, crds and import (offline); diff and run (against a cluster)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from vigil import __version__, settings, sloth
from vigil.assets import deploy_dir
from vigil.crd import build_crds
from vigil.documents import Reading, read_file
from vigil.models.policy import AlertPolicy
from vigil.offline import Result, process
from vigil.parse import MODELS, Problem, Source
from vigil.render.alerts import SECRETS_DIR, referenced_secrets, render_alertmanager_yaml
from vigil.render.components import DEFAULT_COLLECTOR_IMAGE
from vigil.render.context import RenderContext


class InputError(Exception):
    """A file that cannot be read or parsed as YAML."""


def _files(paths: Sequence[str], reading: Reading) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
            if not found:
                reading.warnings.append(Problem(Source(raw), "folder", "", "holds no .yaml, .yml or .json file"))
            yield from found
        elif path.is_file():
            yield path
        else:
            raise InputError(f"{raw}: no such file or directory")


def read_inputs(paths: Sequence[str]) -> Reading:
    """Every non-empty document in ``paths`` (files, or folders without recursion), and what could
    not be read: one broken file never stops the others."""
    reading = Reading()
    for path in _files(paths, reading):
        reading.extend(read_file(path))
    return reading


def read_documents(paths: Sequence[str]) -> list[tuple[Source, Any]]:
    """Every non-empty document in ``paths``; InputError naming each part that cannot be read."""
    reading = read_inputs(paths)
    if reading.errors:
        raise InputError("\n".join(str(p) for p in reading.errors))
    return reading.documents


def dump(objects: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """Write objects as multi-document YAML or as a JSON v1 List."""
    if fmt == "json":
        json.dump({"apiVersion": "v1", "kind": "List", "items": objects}, out, indent=2, sort_keys=True)
        out.write("\n")
        return
    yaml.safe_dump_all(objects, out, sort_keys=False, default_flow_style=False, width=1000)


@dataclass(frozen=True)
class Checked:
    """The outcome of reading and validating the paths: errors (warnings too, under --strict) and warnings."""

    result: Result
    errors: list[Problem]
    warnings: list[Problem]
    unread: list[Problem]
    """Documents (or files) that could not be read: one summary row each."""


def check(paths: Sequence[str], namespace: str, strict: bool, ctx: RenderContext | None = None) -> Checked:
    """Read and validate ``paths``; under ``strict`` every warning counts as an error."""
    reading = read_inputs(paths)
    result = process(reading.documents, namespace, ctx)
    warnings = [*reading.warnings, *result.warnings]
    if paths and not result.rows and not reading.errors:
        where = ", ".join(paths)
        warnings.append(Problem(None, "", "", f"no Vigil object ({', '.join(MODELS)}) found in {where}"))
    errors = [*reading.errors, *result.problems, *(warnings if strict else [])]
    return Checked(result, errors, [] if strict else warnings, reading.errors)


def _print_problems(checked: Checked, out: TextIO) -> None:
    for p in checked.errors:
        print(p, file=out)
    for p in checked.warnings:
        print(f"warning: {p}", file=out)


def _summary(checked: Checked, out: TextIO) -> None:
    result = checked.result
    rows = [("SOURCE", "KIND", "NAME", "RESULT")]
    rows += [(s, k, n, "ok" if c == 0 else f"{c} error{'s' if c > 1 else ''}") for s, k, n, c in result.rows]
    for p in checked.unread:
        kind, _, name = p.object.partition("/")
        rows.append((str(p.source), kind if name else "?", name or "?", "not read"))
    rows += [(s, k, n, "passed over") for s, k, n in result.passed_over]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip(), file=out)
    bad = sum(1 for r in result.rows if r[3])
    line = f"\n{len(result.rows)} objects, {bad} invalid, {len(checked.errors)} errors"
    line += f", {len(checked.warnings)} warnings" if checked.warnings else ""
    line += f", {len(checked.unread)} not read" if checked.unread else ""
    line += f", {len(result.passed_over)} passed over (not Vigil's)" if result.passed_over else ""
    print(line, file=out)


def install_objects() -> list[dict[str, Any]]:
    """What installs Vigil besides the operator itself: its CRDs, then its RBAC (deploy/rbac.yaml)."""
    rbac = deploy_dir() / "rbac.yaml"
    return [*build_crds(), *(d for d in yaml.safe_load_all(rbac.read_text(encoding="utf-8")) if d)]


def _context(args: argparse.Namespace) -> RenderContext:
    return RenderContext(cluster_rule_namespaces=frozenset(args.cluster_rule_namespaces))


def cmd_render(args: argparse.Namespace) -> int:
    if not args.paths and not args.with_crds:
        raise InputError("give YAML files or folders to render (or --with-crds alone for the CRDs and RBAC)")
    if args.with_crds and args.alertmanager_config:
        raise InputError("--with-crds and --alertmanager-config do not mix: one writes manifests, the other a file")
    checked = check(args.paths, args.namespace, args.strict, _context(args))
    _print_problems(checked, sys.stderr)
    if checked.errors:
        return 1
    result = checked.result
    if args.alertmanager_config:
        _alertmanager_config(result, sys.stdout)
        return 0
    dump([*(install_objects() if args.with_crds else []), *result.objects], args.output, sys.stdout)
    return 0


def _alertmanager_config(result: Result, out: TextIO) -> None:
    policies = [m for m in result.models if isinstance(m, AlertPolicy)]
    print("# alertmanager.yml rendered by vigil from the AlertPolicies given.", file=out)
    secrets = referenced_secrets(policies)
    if secrets:
        print(f"# Mount these Secrets at {SECRETS_DIR}/<secret>/<key>:", file=out)
        print(f"#   {', '.join(secrets)}", file=out)
    yaml.safe_dump(
        render_alertmanager_yaml(policies),
        out,
        sort_keys=False,
        default_flow_style=False,
        width=1000,
    )


def cmd_validate(args: argparse.Namespace) -> int:
    checked = check(args.paths, args.namespace, args.strict, _context(args))
    _print_problems(checked, sys.stdout)
    if checked.errors or checked.warnings:
        print(file=sys.stdout)
    _summary(checked, sys.stdout)
    return 1 if checked.errors else 0


def cmd_crds(args: argparse.Namespace) -> int:
    crds = build_crds()
    if args.dir is None:
        dump(crds, "yaml", sys.stdout)
        return 0
    target = Path(args.dir)
    target.mkdir(parents=True, exist_ok=True)
    for crd in crds:
        with (target / f"{crd['metadata']['name']}.yaml").open("w", encoding="utf-8") as f:
            dump([crd], "yaml", f)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from vigil.diff import DiffSettings, diff_documents  # noqa: PLC0415 - the offline commands need no client
    from vigil.k8s import Kube  # noqa: PLC0415

    documents = read_documents(args.paths)
    try:
        kube = Kube.from_environment()
    except Exception as exc:  # noqa: BLE001 - any kubeconfig problem: say it and exit like kubectl
        print(f"error: cannot load a kubeconfig (in-cluster, KUBECONFIG or ~/.kube/config): {exc}", file=sys.stderr)
        return 2
    report = diff_documents(
        kube,
        documents,
        args.namespace,
        DiffSettings(args.prometheus_labels, args.collector_binary, args.collector_image),
    )
    for change in report.changes:
        sys.stdout.write(change.diff)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    return report.exit_code


def cmd_import_sloth(args: argparse.Namespace) -> int:
    try:
        severities = sloth.parse_severity_map(args.severity)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    options = sloth.Options(
        window=args.window,
        namespace=args.namespace,
        severities=severities,
        scrape_interval=args.scrape_interval,
        sloth_labels=not args.no_sloth_labels,
    )
    result = sloth.import_documents(read_documents(args.paths), options)
    for note in result.warnings:
        print(f"warning: {note}", file=sys.stderr)
    if result.errors:
        for note in result.errors:
            print(f"error: {note}", file=sys.stderr)
        return 1
    for imported in result.policies:
        print(f"---\n# Imported from Sloth: {imported.origin}", file=sys.stdout)
        yaml.safe_dump(imported.policy, sys.stdout, sort_keys=False, default_flow_style=False, width=1000)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from vigil.operator import run  # noqa: PLC0415 - kopf loads only for the operator

    return run(settings.from_arguments(args))


def _add_reading_arguments(p: argparse.ArgumentParser) -> None:
    """What render and validate share: how objects are read and judged."""
    p.add_argument("-n", "--namespace", default="default", help="namespace of objects that name none")
    settings.add_cluster_rule_namespaces(p)
    p.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings (empty files, duplicate keys, objects passed over that look meant for Vigil) as errors",
    )


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``vigil``."""
    p = argparse.ArgumentParser(prog="vigil", description=__doc__)
    p.add_argument("--version", action="version", version=f"vigil {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="render objects to the manifests the operator would create")
    r.add_argument("paths", nargs="*", help="YAML files or folders (not recursive)")
    r.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    r.add_argument(
        "--with-crds",
        action="store_true",
        help="put the CustomResourceDefinitions and the operator's RBAC (deploy/rbac.yaml) first, so one "
        "file installs everything; without paths, print only those",
    )
    r.add_argument(
        "--alertmanager-config",
        action="store_true",
        help="print one alertmanager.yml routing the AlertPolicies (for an Alertmanager "
        "without prometheus-operator) instead of the manifests",
    )
    _add_reading_arguments(r)
    r.set_defaults(func=cmd_render)

    v = sub.add_parser("validate", help="check objects; exit 1 if any is invalid")
    v.add_argument("paths", nargs="+", help="YAML files or folders (not recursive)")
    _add_reading_arguments(v)
    v.set_defaults(func=cmd_validate)

    d = sub.add_parser(
        "diff",
        help="show what applying the objects would change on the cluster (KUBECONFIG); "
        "exit 0 no changes, 1 changes, 2 errors",
    )
    d.add_argument("paths", nargs="+", help="YAML files or folders (not recursive)")
    d.add_argument("-n", "--namespace", default="default", help="namespace of objects that name none")
    d.add_argument(
        "--prometheus-labels",
        type=settings.parse_labels,
        default=settings.parse_labels(os.environ.get("VIGIL_PROMETHEUS_LABELS", "")),
        help="the operator's --prometheus-labels (env VIGIL_PROMETHEUS_LABELS), so children render as it would",
    )
    d.add_argument(
        "--collector-binary",
        default=os.environ.get("VIGIL_COLLECTOR_BINARY", ""),
        help="an otelcol to validate collector configs with, as the operator does (env VIGIL_COLLECTOR_BINARY)",
    )
    d.add_argument(
        "--collector-image",
        default=os.environ.get("VIGIL_COLLECTOR_IMAGE", DEFAULT_COLLECTOR_IMAGE),
        help="the operator's --collector-image (env VIGIL_COLLECTOR_IMAGE), for stacks that set none",
    )
    d.set_defaults(func=cmd_diff)

    i = sub.add_parser("import", help="turn another tool's SLO definitions into AlertPolicies")
    formats = i.add_subparsers(dest="format", required=True)
    s = formats.add_parser(
        "sloth",
        help="Sloth specs (version: prometheus/v1, or PrometheusServiceLevel objects) to AlertPolicies",
        description="Print one AlertPolicy per Sloth SLO as YAML; exit 1 naming the Sloth field "
        "when one cannot be imported. Warnings (what is left out or renamed) go to stderr.",
    )
    s.add_argument("paths", nargs="+", help="Sloth YAML files or folders (not recursive)")
    s.add_argument("-n", "--namespace", help="namespace of the AlertPolicies (default: none, kubectl's)")
    s.add_argument(
        "--window",
        default=sloth.DEFAULT_PERIOD,
        help="SLO period, as sloth generate --default-slo-period (default 30d; 1d to 90d)",
    )
    s.add_argument(
        "--severity",
        action="append",
        default=[],
        metavar="SLOTH_VALUE=SEVERITY",
        help="map a Sloth severity label value to critical, warning or info, e.g. pageteam=critical (repeatable)",
    )
    s.add_argument("--scrape-interval", help="slo.scrapeInterval of every policy (default: the model's, 1m)")
    s.add_argument(
        "--no-sloth-labels",
        action="store_true",
        help="leave out the sloth_id, sloth_service, sloth_slo and sloth_severity alert labels",
    )
    s.set_defaults(func=cmd_import_sloth)

    o = sub.add_parser("run", help="run the operator (in a pod, or with KUBECONFIG)")
    settings.add_arguments(o)
    o.set_defaults(func=cmd_run)

    c = sub.add_parser("crds", help="print the CustomResourceDefinitions (or write them to --dir)")
    c.add_argument("--dir", help="write one file per CRD into this folder")
    c.set_defaults(func=cmd_crds)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vigil`` console script; returns the exit code."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
