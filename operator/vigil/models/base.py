"""Shared pieces of every Vigil model: wire format, CEL rules with their Python twins, types."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema


@dataclass(frozen=True)
class CelRule:
    """A CEL rule for the CRD and the Python check that must agree with it.

    ``check`` receives the model instance and returns True when the rule holds; the same
    ``message`` is reported by the API server and by model validation.
    """

    rule: str
    message: str
    check: Callable[[Any], bool]


class VigilModel(BaseModel):
    """Base of every spec/status model: frozen, camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=False,
    )

    cel_rules: ClassVar[tuple[CelRule, ...]] = ()

    @model_validator(mode="after")
    def _check_cel_twins(self) -> VigilModel:
        for cel in type(self).cel_rules:
            if not cel.check(self):
                raise PydanticCustomError("cel_rule", cel.message)
        return self

    @field_validator("*", mode="after")
    @classmethod
    def _unique_items(cls, value: Any, info: ValidationInfo) -> Any:
        # Python twin of x-kubernetes-list-type set (each value once) and map (each key once).
        # Every field of every model passes here: fewer than two items hold no duplicate.
        if not isinstance(value, list) or len(value) < 2 or not info.field_name:
            return value
        rule = _list_rule(cls, info.field_name)
        if rule is None:
            return value
        keys, fix = rule
        seen: set[str] = set()
        for item in value:
            key = ", ".join(str(getattr(item, k, None)) for k in keys) if keys is not None else str(item)
            if key in seen:
                raise PydanticCustomError("duplicate", 'Duplicate value: "{key}": {fix}', {"key": key, "fix": fix})
            seen.add(key)
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        if cls.cel_rules:
            target["x-kubernetes-validations"] = [{"rule": c.rule, "message": c.message} for c in cls.cel_rules]
        # An empty list or map from a default_factory is a default the API server must apply too:
        # without it a CEL rule reading the absent field fails with "no such key".
        for name, info in cls.model_fields.items():
            prop = target.get("properties", {}).get(info.alias or name)
            if info.default_factory is None or prop is None or "default" in prop:
                continue
            value = info.default_factory()  # type: ignore[call-arg]
            if value in ([], {}):
                prop["default"] = value
        return schema


@functools.cache
def _list_rule(model: type[BaseModel], field: str) -> tuple[tuple[str, ...] | None, str] | None:
    """How a list field's items must differ, from its CRD extras: (the snake_case attributes that key a
    list-type map, or None for a set; the fix a duplicate's message names), or None when they need not."""
    extra = model.model_fields[field].json_schema_extra
    if not isinstance(extra, dict):
        return None
    list_type, keys = extra.get("x-kubernetes-list-type"), extra.get("x-kubernetes-list-map-keys")
    if list_type == "map" and isinstance(keys, list):
        return tuple(to_snake(str(k)) for k in keys), "give each entry its own " + "/".join(map(str, keys))
    if list_type in ("set", "map"):
        return None, "list each value once"
    return None


class Credential:
    """The mark of a field that may hold a credential (``Annotated[str, CREDENTIAL]``): no message
    (status, Events, logs, `vigil validate`) ever repeats its value."""

    def __repr__(self) -> str:
        return "CREDENTIAL"


CREDENTIAL = Credential()


def object_default(model: type[BaseModel]) -> dict[str, Any]:
    """JSON schema extra giving a model-typed field its full default in the CRD.

    The API server evaluates CEL rules on defaults as written, so ``{}`` is not enough.
    """
    return {"default": model().model_dump(by_alias=True, mode="json", exclude_none=True)}


def is_set(value: object) -> bool:
    """The Python meaning of CEL's ``has()`` for optional fields."""
    return value is not None


# What no URL, address or path may contain: ASCII control characters and space. Spelled out in
# every pattern, never \s: Python's re and pydantic's regex engine read \s as any Unicode space,
# the API server's RE2 (OpenAPI patterns and CEL matches()) as [\t\n\f\r ] only.
SPACE = r"\x00-\x20\x7f"
# Kubernetes object names referenced from a spec (Secrets, ConfigMaps, sinks).
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Keys inside a Secret or ConfigMap.
CONFIG_KEY = r"^[-._a-zA-Z0-9]+$"
# Prometheus label names.
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
# Go durations as the OpenTelemetry Collector parses them (time.ParseDuration).
GO_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"
# Durations Prometheus accepts in scrape configs and rules.
PROM_DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
# HTTP header field names (RFC 9110 token), but '$': a collector config key must hold no expansion.
HEADER_NAME = r"^[!#%&'*+.^_`|~0-9A-Za-z-]+$"

ObjectName = Annotated[str, StringConstraints(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253)]
LabelValueName = Annotated[str, StringConstraints(pattern=DNS_LABEL, min_length=1, max_length=63)]
ConfigKey = Annotated[str, StringConstraints(pattern=CONFIG_KEY, min_length=1, max_length=253)]
GoDuration = Annotated[str, StringConstraints(pattern=GO_DURATION, max_length=32)]
PromDuration = Annotated[str, StringConstraints(pattern=PROM_DURATION, max_length=32)]
Port = Annotated[int, Field(ge=1, le=65535)]
UnprivilegedPort = Annotated[int, Field(ge=1024, le=65535)]


def _quantity_to_str(value: object) -> object:
    # YAML turns `cpu: 1` into an int; the CRD (int-or-string) takes it, but no fraction.
    if isinstance(value, float):
        raise PydanticCustomError(
            "quantity", 'a quantity is an integer or a string: write "{text}" in quotes', {"text": str(value)}
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# A Kubernetes resource.Quantity (k8s.io/apimachinery), without a sign: resources are never negative.
QUANTITY = (
    r"^[+]?(([0-9]+([.][0-9]*)?)|([.][0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+([.][0-9]*)?)|([.][0-9]+))))?$"
)

Quantity = Annotated[
    str,
    BeforeValidator(_quantity_to_str),
    StringConstraints(pattern=QUANTITY, max_length=64),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY,
            "maxLength": 64,
            "x-kubernetes-int-or-string": True,
        }
    ),
]

_QUANTITY_SUFFIX: dict[str, Decimal] = {
    "": Decimal(1),
    **{s: Decimal(10) ** (3 * i) for i, s in enumerate("kMGTPE", start=1)},
    **{s: Decimal(2) ** (10 * i) for i, s in enumerate(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"], start=1)},
    "m": Decimal("1e-3"),
    "u": Decimal("1e-6"),
    "n": Decimal("1e-9"),
}


MAX_QUANTITY_EXPONENT = 30


def quantity_value(text: str) -> Decimal | None:
    """The value of a Kubernetes quantity (``1Gi``, ``500m``, ``1e3``), or None when it is not one."""
    found = re.fullmatch(r"([+-]?(?:[0-9]+(?:[.][0-9]*)?|[.][0-9]+))(.*)", text.strip())
    if found is None:
        return None
    number, suffix = Decimal(found.group(1)), found.group(2)
    if suffix in _QUANTITY_SUFFIX:
        return number * _QUANTITY_SUFFIX[suffix]
    exponent = re.fullmatch(r"[eE]([+-]?[0-9]+)", suffix)
    # Kubernetes keeps quantities within int64 (about 9.2e18): a huge exponent is no quantity, and
    # must not overflow the arithmetic here.
    if exponent is None or abs(int(exponent.group(1))) > MAX_QUANTITY_EXPONENT:
        return None
    return number * Decimal(10) ** int(exponent.group(1))


# Kubernetes label and annotation keys (qualified names): an optional DNS-1123 subdomain prefix of at
# most 253 characters and '/', then a name of at most 63. Two patterns: structure, then lengths.
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
LABEL_KEY_LENGTHS = r"^([^/]{1,253}/)?[^/]{1,63}$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LABEL_KEY_WORDS = (
    "an optional DNS subdomain prefix of at most 253 characters and '/', then a name of at most 63 "
    "characters: alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric (e.g. "
    "app.kubernetes.io/name or team)"
)


def is_label_key(key: str) -> bool:
    """Whether ``key`` is a Kubernetes qualified name (a label or annotation key)."""
    return matches(LABEL_KEY, key) and matches(LABEL_KEY_LENGTHS, key)


def _label_key_cel(var: str) -> str:
    return f"{var}.matches(r'{LABEL_KEY}') && {var}.matches(r'{LABEL_KEY_LENGTHS}')"


@dataclass(frozen=True)
class TypeRule:
    """A CEL rule on a field's type (a map or a string) with its Python twin, like :class:`CelRule`.

    Used in ``Annotated[...]``: the CRD schema of the field carries the rule, and validation
    runs ``check`` on the value, reporting ``message`` at the field's path as the API server does.
    """

    rule: str
    message: str
    check: Callable[[Any], bool]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def run(value: Any) -> Any:
            if not self.check(value):
                raise PydanticCustomError("cel_rule", self.message)
            return value

        return core_schema.no_info_after_validator_function(run, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = handler(schema)
        target = handler.resolve_ref_schema(out)
        target.setdefault("x-kubernetes-validations", []).append({"rule": self.rule, "message": self.message})
        return out


TYPE_RULES: list[TypeRule] = []
"""Every TypeRule the models use (each has a test that trips it: tests/unit/models/test_cel_twins.py)."""


def type_rule(rule: str, message: str, check: Callable[[Any], bool]) -> TypeRule:
    """A :class:`TypeRule`, registered in :data:`TYPE_RULES`."""
    found = TypeRule(rule, message, check)
    TYPE_RULES.append(found)
    return found


MAX_MAP_ENTRIES = 64

# A URL (or host:port) with credentials in it: user:password@host.
USERINFO = r"^([a-zA-Z][-a-zA-Z0-9+.]*://)?[^/?#]*@"


def without_userinfo(field: str, fix: str) -> CelRule:
    """A rule refusing ``user:password@`` in the URL field ``field`` (snake_case; unset is fine):
    the URL would be stored in plain text, in a ConfigMap or a rule, and repeated in messages."""
    wire = to_camel(field)
    return CelRule(
        rule=f"!has(self.{wire}) || !self.{wire}.matches(r'{USERINFO}')",
        message=f"{wire} must not contain credentials (user:password@): {fix}",
        check=lambda m: getattr(m, field) is None or not matches(USERINFO, getattr(m, field)),
    )


NO_CONTROL = r"[\x00-\x08\x0a-\x1f\x7f]"
"""Control characters other than tab: a header value or mail address holding CR or LF would inject lines."""

PROMETHEUS_LABELS_RULE = type_rule(
    "self.all(k, !k.startsWith('__'))",
    "label names must not start with __: Prometheus reserves them (__name__ is the metric name)",
    lambda m: not any(k.startswith("__") for k in m),
)
"""On maps of Prometheus labels a spec adds to series or alerts."""

LABEL_KEYS_RULE = type_rule(
    f"self.all(k, {_label_key_cel('k')})",
    f"each key must be a label key: {LABEL_KEY_WORDS}",
    lambda m: all(is_label_key(k) for k in m),
)
ANNOTATION_KEYS_RULE = type_rule(
    f"self.all(k, {_label_key_cel('k')})",
    f"each key must be an annotation key: {LABEL_KEY_WORDS}",
    lambda m: all(is_label_key(k) for k in m),
)
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE, max_length=63)]

LabelMap = Annotated[
    dict[Annotated[str, StringConstraints(max_length=317)], LabelValue],
    Field(max_length=MAX_MAP_ENTRIES),
    LABEL_KEYS_RULE,
]
"""Kubernetes labels: keys are qualified names, values label values (at most 63 characters)."""

AnnotationMap = Annotated[
    dict[Annotated[str, StringConstraints(max_length=317)], Annotated[str, StringConstraints(max_length=4096)]],
    Field(max_length=MAX_MAP_ENTRIES),
    ANNOTATION_KEYS_RULE,
]
"""Kubernetes annotations: keys are qualified names, values free text (here at most 4096 characters)."""

LabelKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=317),
    type_rule(
        _label_key_cel("self"),
        f"must be a label key: {LABEL_KEY_WORDS}",
        is_label_key,
    ),
]

# Control characters (C0, DEL, C1) and the invisible marks that reorder or hide text on a terminal.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with control and invisible formatting characters escaped (``\\n``, ``\\x1b``,
    ``\\u202e``): safe in status, Events, logs and terminals, and visible to whoever reads it."""

    def escape(found: re.Match[str]) -> str:
        char = found.group()
        if char in _NAMED_ESCAPES:
            return _NAMED_ESCAPES[char]
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"

    return _UNPRINTABLE.sub(escape, text)


def quoted(value: object) -> str:
    """``value`` in double quotes as the API server quotes invalid values, escaped by :func:`printable`."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{printable(text)}"'


GO_DURATION_LIMIT_S = (2**63 - 1) / 1e9
"""The longest duration Go, and so CEL's duration(), holds (about 292 years)."""
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def fits_go_duration(*durations: str) -> bool:
    """Whether CEL's duration() can read every one of ``durations`` (Go-style, h down to ns).

    Past Go's range CEL stops with a conversion error and the API server refuses the object: a
    CEL rule's Python twin must refuse it too.
    """
    return all(go_seconds(d) <= GO_DURATION_LIMIT_S for d in durations)


# Pure, on short strings: CEL twins ask again for the same few durations.
@functools.lru_cache(maxsize=1024)
def go_seconds(duration: str) -> float:
    """A Go duration (``1h30m``, ``1.5s``, ``200ms``) in seconds."""
    return sum(float(n) * _GO_UNITS[u] for n, u in re.findall(r"([0-9.]+)(ns|us|ms|s|m|h)", duration))


def matches(pattern: str, value: str) -> bool:
    """Python twin of CEL ``string.matches`` (RE2 search semantics).

    RE2's ``$`` matches only at the end of the text; Python's also before a final newline, so a
    pattern's closing ``$`` becomes ``\\Z`` here ("host:4317\\n" must not pass).
    """
    return _re2(pattern).search(value) is not None


# The patterns are the models' own constants: few, and asked for on every validation.
@functools.lru_cache(maxsize=256)
def _re2(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)
