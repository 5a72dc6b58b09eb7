"""A MonitoringStack's built-in rule bundles (rules/) as one PrometheusRule, thresholds overridden.

rules/bundles.yaml lists each bundle's overridable thresholds; the expr of the alert a threshold
belongs to ends with ``<comparison> <default>``, and an override replaces that trailing number.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from vigil.assets import rules_dir
from vigil.models.bundles import RuleBundleSelection
from vigil.models.policy import format_number
from vigil.render import meta
from vigil.render.errors import RenderError

API_VERSION = "monitoring.coreos.com/v1"
COMPONENT = "rules"
INDEX = "bundles.yaml"

# The comparison and plain decimal literal an overridable alert's expr ends with.
TRAILING_THRESHOLD = re.compile(r"(?P<head>.*?(?:>=|<=|==|!=|>|<)\s*)(?P<number>-?[0-9]+(?:\.[0-9]+)?)\s*\Z", re.S)


@dataclass(frozen=True)
class Threshold:
    """An overridable number: which alert's expr ends with it, and its default."""

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


def override_threshold(expr: str, default: float, value: float) -> str:
    """``expr`` with its trailing ``<comparison> <default>`` number replaced by ``value``.

    Raises ValueError when ``expr`` does not end with ``default``: the bundle broke the
    convention of rules/bundles.yaml.
    """
    match = TRAILING_THRESHOLD.match(expr)
    if match is None or float(match["number"]) != default:
        raise ValueError(f"expr does not end with '<comparison> {format_number(default)}': {expr}")
    return f"{match['head']}{format_number(value)}"


def _apply(groups: list[dict[str, Any]], bundle: Bundle, overrides: dict[str, float]) -> list[dict[str, Any]]:
    by_alert = {t.alert: t for t in bundle.thresholds if t.name in overrides}
    for group in groups:
        for rule in group.get("rules", []):
            threshold = by_alert.get(rule.get("alert", ""))
            if threshold is not None:
                rule["expr"] = override_threshold(str(rule["expr"]), threshold.default, overrides[threshold.name])
    return groups


def _choices(names: Sequence[str]) -> str:
    return ", ".join(names)


def render_rule_bundles(
    owner: meta.Owner,
    selections: Sequence[RuleBundleSelection],
    labels: dict[str, str],
    field: str = "spec.ruleBundles",
) -> list[dict[str, Any]]:
    """One PrometheusRule with every selected bundle's groups (none when nothing is selected).

    ``labels`` are the labels Prometheus selects PrometheusRules by; ``field`` names the list in
    the owner's spec for errors. Raises RenderError naming the entry of an unknown bundle or
    threshold, or of a bundle selected twice.
    """
    if not selections:
        return []
    index = bundle_index()
    where = f"{owner.kind}/{owner.name}: {field}"
    groups: list[dict[str, Any]] = []
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
        groups += _apply(bundle_groups(bundle.name), bundle, dict(selection.thresholds))
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
