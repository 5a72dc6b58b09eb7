"""A MonitoringStack's built-in rule bundles (rules/) as one PrometheusRule: scoped, labelled for
routing, thresholds overridden.

Every rule expression is rewritten on its syntax tree (render/promql.py):

- scope ``namespace`` (the default) adds ``namespace="<stack's namespace>"`` to every selector, so
  a stack's rules never read another namespace's series; scope ``cluster`` reads them all and is
  allowed only where the operator says so (``RenderContext.cluster_rule_namespaces``);
- selectors of series the stack's own recording rules write add ``vigil_stack="<ns>/<stack>"``,
  and those recordings carry that label, so two stacks' recordings never mix;
- every alert carries ``vigil_stack`` and ``namespace`` (the stack's), which the stack's
  AlertmanagerConfig routes on, and with scope ``cluster`` ``exported_namespace`` (the series').

rules/bundles.yaml lists each bundle's overridable thresholds; the expr of the alert a threshold
belongs to is a comparison with the default as its right-hand number, which an override replaces.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import promql_parser
import yaml

from vigil import api
from vigil.assets import rules_dir
from vigil.models.bundles import RuleBundleSelection
from vigil.render import meta
from vigil.render.errors import RenderError
from vigil.render.promql import COMPARISONS, Printer, PromQLError, number, parse

API_VERSION = "monitoring.coreos.com/v1"
COMPONENT = "rules"
INDEX = "bundles.yaml"


@dataclass(frozen=True)
class Threshold:
    """An overridable number: which alert's expr compares with it, and its default."""

    name: str
    alert: str
    default: float


@dataclass(frozen=True)
class Bundle:
    """One rule file of rules/ and its overridable thresholds."""

    name: str
    file: str
    description: str
    thresholds: tuple[Threshold, ...]


@cache
def bundle_index() -> dict[str, Bundle]:
    """Every built-in bundle by name, from rules/bundles.yaml."""
    raw = yaml.safe_load((rules_dir() / INDEX).read_text(encoding="utf-8"))
    return {
        b["name"]: Bundle(
            name=b["name"],
            file=b["file"],
            description=" ".join(str(b.get("description", "")).split()),
            thresholds=tuple(Threshold(t["name"], t["alert"], float(t["default"])) for t in b.get("thresholds", [])),
        )
        for b in raw["bundles"]
    }


@cache
def _groups(file: str) -> list[dict[str, Any]]:
    loaded = yaml.safe_load((rules_dir() / file).read_text(encoding="utf-8"))
    return list(loaded["groups"])


def bundle_groups(name: str) -> list[dict[str, Any]]:
    """The rule groups of bundle ``name`` as shipped (a fresh copy)."""
    return copy.deepcopy(_groups(bundle_index()[name].file))


def recorded_metrics(names: Collection[str]) -> frozenset[str]:
    """Every series name the recording rules of bundles ``names`` write."""
    return frozenset(
        str(r["record"]) for n in names for g in _groups(bundle_index()[n].file) for r in g["rules"] if "record" in r
    )


def alert_severities(names: Collection[str]) -> frozenset[str]:
    """The severities the alerts of bundles ``names`` carry."""
    return frozenset(
        str(r["labels"][api.SEVERITY_LABEL])
        for n in names
        for g in _groups(bundle_index()[n].file)
        for r in g["rules"]
        if "alert" in r
    )


def trailing_threshold(expr: str) -> float | None:
    """The number ``expr`` compares with at its top, e.g. 0.05 of ``x > 0.05``; None if it does not."""
    tree = parse(expr)
    if (
        isinstance(tree, promql_parser.BinaryExpr)
        and str(tree.op) in COMPARISONS
        and isinstance(tree.rhs, promql_parser.NumberLiteral)
    ):
        return float(tree.rhs.val)
    return None


@dataclass(frozen=True)
class Scope:
    """Whose series one stack's bundle rules read, and which recordings are its own."""

    stack_id: str
    """``<namespace>/<stack>``, the value of ``vigil_stack``."""
    namespace: str | None
    """Only series of this namespace; None reads every namespace (scope cluster)."""
    recorded: frozenset[str] = frozenset()
    """Series names the stack's recording rules write."""

    def matchers(self, metric: str | None) -> list[tuple[str, str]]:
        """Equality matchers a selector of ``metric`` gets."""
        out = [(api.NAMESPACE_LABEL, self.namespace)] if self.namespace is not None else []
        if metric in self.recorded:
            out.append((api.STACK_LABEL, self.stack_id))
        return out

    def rewrite(self, expr: str, threshold: tuple[float, float] | None = None) -> str:
        """``expr`` scoped; with ``threshold`` (default, value) its trailing number replaced.

        Raises PromQLError when ``expr`` is not PromQL, or does not compare with ``default``.
        """
        tree = parse(expr)
        printer = Printer(self.matchers)
        if threshold is None:
            return printer.expr(tree)
        default, value = threshold
        if trailing_threshold(expr) != default or not isinstance(tree, promql_parser.BinaryExpr):
            raise PromQLError(f"expr does not end with '<comparison> {number(default)}': {expr}")
        return printer.binary(tree, number(value))


def override_threshold(expr: str, default: float, value: float) -> str:
    """``expr`` with the number its top comparison compares with, ``default``, replaced by ``value``.

    Raises ValueError (PromQLError) when ``expr`` does not end with ``<comparison> <default>``:
    the bundle broke the convention of rules/bundles.yaml.
    """
    return Scope("", None).rewrite(expr, (default, value))


def _alert_labels(rule: dict[str, Any], scope: Scope, namespace: str) -> dict[str, str]:
    labels = {
        **rule.get("labels", {}),
        api.NAMESPACE_LABEL: namespace,
        api.STACK_LABEL: scope.stack_id,
    }
    if scope.namespace is None:
        # The stack's namespace routes the alert; the series' own namespace stays visible.
        labels[api.EXPORTED_NAMESPACE_LABEL] = "{{ $labels.namespace }}"
    return labels


def _scoped_groups(bundle: Bundle, scope: Scope, namespace: str, overrides: dict[str, float]) -> list[dict[str, Any]]:
    by_alert = {t.alert: t for t in bundle.thresholds if t.name in overrides}
    groups = bundle_groups(bundle.name)
    for group in groups:
        for rule in group.get("rules", []):
            threshold = by_alert.get(rule.get("alert", ""))
            change = (threshold.default, overrides[threshold.name]) if threshold is not None else None
            rule["expr"] = scope.rewrite(str(rule["expr"]), change)
            if "alert" in rule:
                rule["labels"] = _alert_labels(rule, scope, namespace)
            else:
                rule["labels"] = {**rule.get("labels", {}), api.STACK_LABEL: scope.stack_id}
    return groups


def _choices(names: Sequence[str]) -> str:
    return ", ".join(names)


def _check_selections(
    owner: meta.Owner, selections: Sequence[RuleBundleSelection], field: str, cluster_ok: bool
) -> None:
    index = bundle_index()
    where = f"{owner.kind}/{owner.name}: {field}"
    seen: set[str] = set()
    for i, selection in enumerate(selections):
        bundle = index.get(selection.name)
        if bundle is None:
            raise RenderError(
                f"{where}[{i}].name",
                f'unknown rule bundle "{selection.name}": choose one of {_choices(sorted(index))}',
            )
        if selection.name in seen:
            raise RenderError(
                f"{where}[{i}].name",
                f'rule bundle "{selection.name}" is selected twice: remove one entry',
            )
        seen.add(selection.name)
        known = [t.name for t in bundle.thresholds]
        for name in sorted(selection.thresholds):
            if name not in known:
                raise RenderError(
                    f"{where}[{i}].thresholds.{name}",
                    f'unknown threshold "{name}" of rule bundle "{bundle.name}": choose one of '
                    f"{_choices(known) or 'none (this bundle has no thresholds)'}",
                )
        if selection.scope == "cluster" and not cluster_ok:
            raise RenderError(
                f"{where}[{i}].scope",
                f'scope "cluster" reads the series of every namespace and is not allowed for stacks '
                f'in namespace "{owner.namespace}": use scope "namespace", or ask your cluster admin '
                f"to add {owner.namespace} to the operator's --cluster-rule-namespaces",
                reason="ClusterScopeNotAllowed",
            )


def render_rule_bundles(
    owner: meta.Owner,
    selections: Sequence[RuleBundleSelection],
    labels: dict[str, str],
    field: str = "spec.ruleBundles",
    cluster_rule_namespaces: Collection[str] = (),
) -> list[dict[str, Any]]:
    """One PrometheusRule with every selected bundle's groups, scoped (none when nothing is selected).

    ``labels`` are the labels Prometheus selects PrometheusRules by; ``field`` names the list in
    the owner's spec for errors; ``cluster_rule_namespaces`` are the namespaces whose stacks may
    select scope cluster. Raises RenderError naming the entry of an unknown bundle or threshold,
    a bundle selected twice, or a scope the stack's namespace may not have.
    """
    if not selections:
        return []
    _check_selections(owner, selections, field, owner.namespace in cluster_rule_namespaces)
    stack_id = f"{owner.namespace}/{owner.name}"
    recorded = recorded_metrics([s.name for s in selections])
    groups: list[dict[str, Any]] = []
    for i, selection in enumerate(selections):
        scope = Scope(stack_id, None if selection.scope == "cluster" else owner.namespace, recorded)
        try:
            groups += _scoped_groups(bundle_index()[selection.name], scope, owner.namespace, dict(selection.thresholds))
        except PromQLError as exc:  # a broken bundle file, not the user's mistake
            raise RenderError(f"{owner.kind}/{owner.name}: {field}[{i}].name", str(exc)) from exc
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "PrometheusRule",
            "metadata": meta.metadata(
                owner,
                meta.ObjectMetaSpec(meta.stack_rules_name(owner.name), COMPONENT, dict(labels)),
            ),
            "spec": {"groups": groups},
        }
    ]
