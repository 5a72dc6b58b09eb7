"""Turn Kubernetes documents into models, or into problems that name the field and the fix."""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from vigil import api
from vigil.crd import KINDS, build_crd
from vigil.models.base import CREDENTIAL, printable, quoted

MODELS: dict[str, type[BaseModel]] = {k.kind: k.model for k in KINDS}
SCHEMAS: dict[type[BaseModel], dict[str, Any]] = {
    k.model: build_crd(k)["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for k in KINDS
}
"""The schema the API server validates each kind's objects with (its CRD's)."""


@dataclass(frozen=True)
class Source:
    """Where a document came from: file and 1-based document index (0: the file as a whole)."""

    file: str
    index: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.index}" if self.index else self.file


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one object, phrased as the API server would, plus the fix."""

    source: Source | None
    object: str  # Kind/name
    path: str
    message: str
    code: str = ""
    """What kind of check failed: pydantic's error type (e.g. ``promql``), or empty."""

    def __str__(self) -> str:
        parts = (str(self.source) if self.source else "", self.object, self.path, self.message)
        return printable(": ".join(p for p in parts if p))


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Parsed(Generic[M]):
    """A document that is one of Vigil's kinds and passed model validation."""

    source: Source | None
    model: M


def path_of(loc: Sequence[int | str]) -> str:
    """``('spec', 'otlp', 'headers', 0, 'name')`` -> ``spec.otlp.headers[0].name``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _quote(values: Iterable[Any]) -> str:
    return ", ".join(quoted(v) for v in values)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict, _REPR.maxlevel = 60, 60, 3, 3, 2


def shown(value: Any, limit: int = 120) -> str:
    """A value for a message, cut short: a hostile input may be megabytes, or nested deep."""
    return printable(_shorten(value if isinstance(value, str) else _REPR.repr(value), limit))


HIDDEN = "(not shown: the field may hold a credential)"
"""What a message says instead of the value of a credential-bearing field."""


def _shown(value: Any, hidden: bool) -> str:
    """An invalid value as a message shows it: quoted and escaped, or not at all for credentials."""
    if hidden:
        return HIDDEN
    if isinstance(value, str):
        return quoted(_shorten(value))
    return shown(value)


def explain(error: ErrorDetails, hidden: bool = False) -> str:
    """A pydantic error in the API server's words, with what to do about it.

    With ``hidden`` (a credential-bearing field) the value is never repeated: messages reach
    status, Events and logs.
    """
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    field = str(error["loc"][-1]) if error["loc"] else "value"
    text = _shown(value, hidden)
    if kind == "missing":
        return f"Required value: set {field}"
    if kind in ("promql", "template") and isinstance(value, str):
        # Only the operator parses PromQL and templates: quote the value like the API server.
        return f"Invalid value: {text}: {printable(error['msg'])}"
    if kind == "extra_forbidden":
        return f'unknown field "{printable(path_of(error["loc"]))}": remove it or check its spelling'
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        allowed = [p.strip().strip("'") for p in expected.replace(" or ", ", ").split(",") if p.strip()]
        return f"Unsupported value: {text}: supported values: {_quote(allowed)}"
    if kind == "string_pattern_mismatch":
        return f"Invalid value: {text}: should match '{ctx.get('pattern')}'"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        words = {
            "greater_than_equal": "greater than or equal to",
            "less_than_equal": "less than or equal to",
            "greater_than": "greater than",
            "less_than": "less than",
        }[kind]
        bound = next(iter(ctx.values()), "")
        return f"Invalid value: {text}: should be {words} {bound}"
    if kind == "too_short":
        return f"Invalid value: should have at least {ctx.get('min_length')} items"
    if kind == "too_long":
        return f"Too many: {ctx.get('actual_length')}: must have at most {ctx.get('max_length')} items"
    if kind == "string_too_long":
        return f"Too long: may not be more than {ctx.get('max_length')} bytes"
    if kind == "string_too_short":
        return f"Invalid value: {text}: must be at least {ctx.get('min_length')} characters"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"Invalid value: {text}: {error['msg'].lower()}"
    return printable(str(error["msg"]).removeprefix("Value error, "))


def _is_hidden(annotation: Any) -> bool:
    """Whether a field's type carries the :data:`~vigil.models.base.CREDENTIAL` mark."""
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return any(e is CREDENTIAL for e in extra) or _is_hidden(base)
    if get_origin(annotation) in (Union, UnionType):
        return any(_is_hidden(a) for a in get_args(annotation))
    return False


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes a field's type holds (through Optional, list, dict and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in get_args(annotation) for m in _models_in(a)]


def hidden_at(model: type[BaseModel], loc: Sequence[int | str]) -> bool:
    """Whether the field at ``loc`` (a pydantic error location) in ``model`` may hold a credential."""
    current: list[type[BaseModel]] = [model]
    annotation: Any = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = [f for m in current for name, f in m.model_fields.items() if part in (name, f.alias)]
        if not fields:
            return False
        annotation = fields[0].annotation
        if _is_hidden(annotation) or any(e is CREDENTIAL for e in fields[0].metadata):
            return True
        current = _models_in(annotation)
    return False


_INT64 = 2**63
MAX_PROBLEMS = 20
"""Problems reported per object; a hostile list could otherwise bring one per item."""
MAX_DEPTH = 100
"""Nesting levels of one object (a Deployment needs about 12): deeper ones are refused unread,
before any recursive code (validation, rendering, JSON) meets them."""


class TooDeepError(ValueError):
    """A document nesting past MAX_DEPTH levels; ``path`` leads to the first node found beyond."""

    def __init__(self, path: tuple[str | int, ...]) -> None:
        super().__init__(f"{path_of(path[:6])}...: nested deeper than {MAX_DEPTH} levels")
        self.path = path


def _number(value: int | float) -> int | float:
    # JSON numbers as the API server decodes them: int64 when whole and in range, else float64.
    if isinstance(value, int):
        if -_INT64 <= value < _INT64:
            return value
        try:
            return float(value)
        except OverflowError:
            return value  # beyond any number: refused either way
    return int(value) if value.is_integer() and -_INT64 <= value < _INT64 else value


def _begin(value: Any) -> Any:
    """The API server's reading of a scalar, or an empty list or dict to fill for a container."""
    kind = type(value)
    # The types JSON and YAML give first, without isinstance's slower look through Mapping's registry.
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {}
    if kind is int or kind is float:
        return _number(value)
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, list):
        return []
    return {} if isinstance(value, Mapping) else value


_BUILT = (list, dict)
"""The types :func:`_begin` gives a container (a scalar is read as some other type)."""


def _last_step(node: list[Any] | Mapping[Any, Any]) -> str | int:
    return len(node) - 1 if isinstance(node, list) else str(list(node)[-1])


def as_api_server_reads(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` as the API server validates it against ``schema`` (a CRD's structural schema).

    Fields set to null are dropped (the server prunes them, then defaults), except where the
    schema keeps unknown fields as given; whole numbers are integers and integers beyond 64 bits
    floats, everywhere, as its JSON decoder makes them.

    Read without recursion, in one pass that also measures depth: :class:`TooDeepError` past
    MAX_DEPTH levels, naming the first such path in last-child-first order.
    """
    root = _begin(value)
    if type(root) not in _BUILT:
        return root
    # Each container is built empty where it belongs, then filled when popped.
    pending: list[tuple[Any, Mapping[str, Any], Any, tuple[str | int, ...]]] = [(value, schema, root, ())]
    while pending:
        node, node_schema, built, path = pending.pop()
        if len(path) == MAX_DEPTH and len(node):
            raise TooDeepError((*path, _last_step(node)))
        if isinstance(built, list):
            items: Mapping[str, Any] = node_schema.get("items", {})
            for i, child in enumerate(node):
                made = _begin(child)
                built.append(made)
                if type(made) in _BUILT:
                    pending.append((child, items, made, (*path, i)))
            continue
        properties: Mapping[str, Any] = node_schema.get("properties", {})
        extra = node_schema.get("additionalProperties")
        keep_nulls = bool(node_schema.get("x-kubernetes-preserve-unknown-fields")) and not properties
        for key, child in node.items():
            if child is None and not keep_nulls:
                continue
            made = _begin(child)
            built[key] = made
            if type(made) in _BUILT:
                sub = properties.get(key, extra if isinstance(extra, Mapping) else None)
                pending.append((child, sub if sub is not None else {}, made, (*path, str(key))))
    return root


def parse_document(doc: Any, source: Source | None = None) -> Parsed[BaseModel] | list[Problem] | None:
    """Validate one document. None when it is not a Vigil kind (passed over)."""
    if not isinstance(doc, Mapping):
        return [Problem(source, "document", "", "not a mapping; expected a Kubernetes object")]
    doc = dict(doc)  # kopf hands over a read-only Mapping
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not api_version.startswith(f"{api.GROUP}/"):
        return None
    name = doc.get("metadata", {}).get("name", "<no name>") if isinstance(doc.get("metadata"), dict) else "<no name>"
    label = f"{shown(kind)}/{shown(name)}"
    if api_version != api.API_VERSION:
        return [
            Problem(
                source,
                label,
                "apiVersion",
                f'Unsupported value: "{api_version}": supported values: "{api.API_VERSION}"',
            )
        ]
    model = MODELS.get(str(kind))
    if model is None:
        supported = _quote(MODELS)
        return [Problem(source, label, "kind", f'Unsupported value: "{kind}": supported values: {supported}')]
    try:
        read = as_api_server_reads(doc, SCHEMAS[model])
    except TooDeepError as exc:
        where = f"{path_of(exc.path[:6])}..."
        return [Problem(source, label, where, f"nested deeper than {MAX_DEPTH} levels: no Kubernetes object is")]
    try:
        # Strict: "3" is no integer and "yes" no boolean for the API server either.
        return Parsed(source, model.model_validate(read, strict=True))
    except ValidationError as exc:
        errors = exc.errors()
        problems = [
            Problem(source, label, path_of(e["loc"]), explain(e, hidden_at(model, e["loc"])), e["type"])
            for e in errors[:MAX_PROBLEMS]
        ]
        if len(errors) > MAX_PROBLEMS:
            more = f"and {len(errors) - MAX_PROBLEMS} more problems: fix these first"
            problems.append(Problem(source, label, "", more, "too_many"))
        return problems


def misaddressed(doc: Mapping[str, Any]) -> str | None:
    """Why a document parse_document passes over was probably meant for Vigil, or None."""
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        return "not a Kubernetes object (no apiVersion or kind): passed over"
    group = api_version.rpartition("/")[0]
    if kind in MODELS:
        return f'"{shown(api_version, 80)}" is not {api.API_VERSION}: this {shown(kind)} is passed over; fix apiVersion'
    if "vigil" in group.lower():
        return (
            f'group "{shown(group, 80)}" is not {api.GROUP}: this {shown(kind, 63)} is passed over; '
            f"Vigil's kinds are {', '.join(MODELS)} in {api.API_VERSION}"
        )
    return None


def parse_as(doc: Any, model: type[M], source: Source | None = None) -> Parsed[M] | list[Problem]:
    """Validate a document that must be of ``model``'s kind (as the operator receives them)."""
    result = parse_document(doc, source)
    if isinstance(result, list):
        return result
    if result is None or not isinstance(result.model, model):
        expected = next(k for k, m in MODELS.items() if m is model)
        return [Problem(source, f"{expected}/?", "kind", f"Unsupported value: expected a {expected} object")]
    found: M = result.model
    return Parsed(result.source, found)
