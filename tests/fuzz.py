"""Vigil objects generated from the CRDs' own schemas, valid and near-valid, for property tests.

Two sources, mixed: values drawn straight from a kind's OpenAPI schema (types, enums, patterns,
bounds; CEL rules ignored, so most are rejected), and the examples' objects with a few mutations
each (a field dropped, set to null, given a wrong type or a boundary value, a string with a
character the regex engines disagree on), so that many are accepted and the rest are near misses.

Budgets: ``budget(n)`` gives n examples in the normal run (derandomized, so CI is repeatable) and
LONG_FACTOR times more, randomized, under ``VIGIL_FUZZ=long`` (``make fuzz``).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.helpers import example_documents
from vigil import api
from vigil.crd import KINDS_BY_NAME, openapi_schema
from vigil.destinations import DESTINATIONS

LONG = os.environ.get("VIGIL_FUZZ") == "long"
LONG_FACTOR = 20


def budget(examples: int) -> settings:
    """Hypothesis settings for ``examples`` examples (LONG_FACTOR times more under VIGIL_FUZZ=long)."""
    return settings(
        max_examples=examples * LONG_FACTOR if LONG else examples,
        deadline=None,
        derandomize=not LONG,
        database=None if not LONG else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )


SCHEMAS: dict[str, dict[str, Any]] = {k: openapi_schema(v.spec) for k, v in KINDS_BY_NAME.items()}

# Characters Python's re, pydantic's regex engine and the API server's RE2 may read differently,
# and characters that are syntax somewhere downstream (YAML, the collector's ${...}, templates).
TRICKY = (
    "\n", "\t", "\x0b", "\x0c", "\r", " ", "\x00", "\x1c", "\x7f", "\x85", "\xa0", "\u2028", "\u3000",
    "é", "$", "${env:HOME}", "{{", "}}", "'", '"', "\\", "/", ":", "@", "#", ",", "..", "-", "A", "0",
)  # fmt: skip


def _seeds() -> dict[str, list[dict[str, Any]]]:
    seeds: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SCHEMAS}
    for doc in example_documents():
        if doc.get("apiVersion") == api.API_VERSION:
            seeds[doc["kind"]].append(doc)
    for d in DESTINATIONS:
        seeds["TelemetrySink"].append(
            {"apiVersion": api.API_VERSION, "kind": "TelemetrySink", "metadata": {"name": d.field.lower()},
             "spec": d.example_spec()}
        )  # fmt: skip
    return seeds


SEEDS = _seeds()


def _python_pattern(pattern: str) -> str:
    # from_regex reads Python's re; the patterns spell their classes out (no \s), so they mean the same.
    return pattern


def strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """Strings for a string schema: its enum, its pattern, or text within its length."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    top = schema.get("maxLength", 40)
    low = schema.get("minLength", 0)
    if "pattern" in schema:
        # Cut to length rather than filtered: a cut string is a near miss worth trying too.
        matching = st.from_regex(_python_pattern(schema["pattern"]), fullmatch=True).map(lambda s: s[:top])
        return st.one_of(matching, matching.map(lambda s: s + "\n"), tricky_text(top))
    return st.one_of(st.text(min_size=low, max_size=min(top, 24)), tricky_text(top))


def tricky_text(top: int = 40) -> st.SearchStrategy[str]:
    """Short strings mixing letters with the characters regex engines and renderers disagree on."""
    return st.lists(st.sampled_from(TRICKY) | st.text("abcxyz019.-", min_size=1, max_size=4), max_size=6).map(
        lambda parts: "".join(parts)[: max(top, 1)]
    )


def _key_rule(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    for rule in schema.get("x-kubernetes-validations", []):
        listed = re.search(r"self\.all\(k, k in \[(.*)\]\)", rule["rule"])
        if listed:
            return st.sampled_from(re.findall(r"'([^']*)'", listed.group(1)))
        patterns = (
            re.findall(r"k\.matches\(r'([^']*)'\)", rule["rule"]) if rule["rule"].startswith("self.all(k,") else []
        )
        if patterns:
            first, *rest = patterns
            return st.from_regex(first, fullmatch=True).filter(
                lambda k, rest=rest: 0 < len(k) <= 63 and all(re.search(p, k) for p in rest)
            )
    return st.one_of(st.from_regex(r"[a-z][a-z0-9_.-]{0,12}", fullmatch=True), tricky_text(12))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
"""Small JSON values, for fields Vigil passes through unchanged."""


_CACHE: dict[tuple[int, int], tuple[dict[str, Any], st.SearchStrategy[Any]]] = {}


def values(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values the schema's types, enums, patterns and bounds allow (CEL rules are not considered)."""
    cached = _CACHE.get((id(schema), depth))
    if cached is None or cached[0] is not schema:
        cached = _CACHE[(id(schema), depth)] = (schema, _values(schema, depth))
    return cached[1]


def _values(schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(st.integers(0, 4096), strings({**schema, "maxLength": 12}))
    kind = schema.get("type")
    if kind == "object":
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return st.dictionaries(st.text(max_size=8), JSON, max_size=3)
        if "additionalProperties" in schema:
            return st.dictionaries(
                _key_rule(schema), values(schema["additionalProperties"], depth + 1), max_size=3 if depth < 4 else 1
            )
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        if depth > 4:
            return st.fixed_dictionaries({k: values(props[k], depth + 1) for k in required})
        return st.fixed_dictionaries(
            {k: values(props[k], depth + 1) for k in required},
            optional={k: values(v, depth + 1) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        top = min(schema.get("maxItems", 3), 3 if depth < 4 else 1)
        low = min(schema.get("minItems", 0), top)
        return st.lists(values(schema["items"], depth + 1), min_size=low, max_size=top)
    if kind == "string":
        return strings(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    if kind == "number":
        return st.floats(
            schema.get("minimum"),
            schema.get("maximum"),
            exclude_min=bool(schema.get("exclusiveMinimum")),
            exclude_max=bool(schema.get("exclusiveMaximum")),
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    return JSON


def wrong_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values just outside the schema: another type, a bound crossed, a string too long, null."""
    options: list[st.SearchStrategy[Any]] = [
        st.none(),
        st.sampled_from(["1", "true", "yes", "1.5", "", "2001-12-14"]),
        st.sampled_from([True, 0, 1.5, 3.0, -1, 2**63, 2**63 - 1, 2**64]),
        st.just([]),
        st.just({}),
    ]
    for bound, step in (("maximum", 1), ("minimum", -1)):
        if bound in schema:
            options.append(st.sampled_from([schema[bound] + step, schema[bound]]))
    if "maxLength" in schema:
        top = schema["maxLength"]
        options.append(st.sampled_from(["a" * (top + 1), "a" * top, "é" * top]))
    if schema.get("type") == "string":
        options.append(tricky_text())
    return st.one_of(options)


def _subschema(schema: dict[str, Any], key: str | int) -> dict[str, Any] | None:
    if isinstance(key, int):
        return schema.get("items")
    if key in schema.get("properties", {}):
        return schema["properties"][key]  # type: ignore[no-any-return]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _paths(value: Any, schema: dict[str, Any], prefix: tuple[str | int, ...] = ()) -> list[tuple[Any, ...]]:
    """Every (path, schema) inside ``value`` that the schema describes."""
    found: list[tuple[Any, ...]] = [(prefix, schema)]
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return found
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        sub = _subschema(schema, key)
        if sub is not None:
            found += _paths(child, sub, (*prefix, key))
    return found


def _set(root: Any, path: tuple[str | int, ...], op: Callable[[Any, str | int], None]) -> None:
    target = root
    for key in path[:-1]:
        target = target[key]
    op(target, path[-1])


@st.composite
def mutated(draw: st.DrawFn, spec: dict[str, Any], schema: dict[str, Any], count: int) -> dict[str, Any]:
    """``spec`` with ``count`` changes, each at a place the schema describes."""
    spec = copy.deepcopy(spec)
    for _ in range(count):
        candidates = [(p, s) for p, s in _paths(spec, schema) if p]
        if not candidates:
            break
        path, sub = draw(st.sampled_from(candidates))
        op = draw(st.sampled_from(["drop", "regenerate", "wrong", "unknown", "duplicate"]))
        if op == "drop":
            _set(spec, path, lambda t, k: t.pop(k))
        elif op == "regenerate":
            new = draw(values(sub, depth=3))
            _set(spec, path, lambda t, k, new=new: t.__setitem__(k, new))
        elif op == "wrong":
            new = draw(wrong_values(sub))
            _set(spec, path, lambda t, k, new=new: t.__setitem__(k, new))
        elif op == "unknown" and isinstance(_get(spec, path), dict):
            _get(spec, path)[draw(st.sampled_from(["extra", "Endpoint", "spec"]))] = "x"
        elif op == "duplicate" and isinstance(_get(spec, path), list) and _get(spec, path):
            items = _get(spec, path)
            items.append(copy.deepcopy(items[0]))
    return spec


def _get(root: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        root = root[key]
    return root


NAMES = st.one_of(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
    st.sampled_from(["a" * 253, "a" * 254, "a" * 63 + "." + "b" * 63, "a..b", "a.-b", "A", "a_b", "-a", "a\n", "é"]),
)
"""metadata.name: DNS subdomains, and the near misses the API server refuses."""


@st.composite
def documents(draw: st.DrawFn, kind: str, namespace: str) -> dict[str, Any]:
    """A ``kind`` object in ``namespace``: a mutated example (mostly) or drawn from the schema."""
    schema = SCHEMAS[kind]
    if draw(st.integers(0, 4)) == 0:
        spec = draw(values(schema))
    else:
        seed = draw(st.sampled_from(SEEDS[kind]))
        spec = draw(mutated(seed["spec"], schema, draw(st.integers(0, 3))))
    name = draw(NAMES) if draw(st.integers(0, 5)) == 0 else draw(st.sampled_from(["fz", "fuzz-1", "a.b"]))
    return {
        "apiVersion": api.API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
