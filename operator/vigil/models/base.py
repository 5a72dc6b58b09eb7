"""Shared pieces of every Vigil model: wire format, CEL rules with their Python twins, types."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError


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
        extra = cls.model_fields[info.field_name or ""].json_schema_extra if info.field_name else None
        if not isinstance(extra, dict) or not isinstance(value, list):
            return value
        list_type, keys = extra.get("x-kubernetes-list-type"), extra.get("x-kubernetes-list-map-keys")
        if list_type not in ("set", "map"):
            return value
        seen: set[str] = set()
        for item in value:
            if list_type == "map" and isinstance(keys, list):
                found = [getattr(item, to_snake(str(k)), None) for k in keys]
                key, fix = ", ".join(str(f) for f in found), "give each entry its own " + "/".join(map(str, keys))
            else:
                key, fix = str(item), "list each value once"
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


QUANTITY = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"

Quantity = Annotated[
    str,
    BeforeValidator(_quantity_to_str),
    StringConstraints(pattern=QUANTITY, max_length=64),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY,
            "x-kubernetes-int-or-string": True,
        }
    ),
]

StringMap = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=317)],
        Annotated[str, StringConstraints(max_length=63)],
    ],
    Field(max_length=64),
]
"""Kubernetes label maps (keys up to prefix/name, values up to 63 chars; at most 64 entries, which
keeps the CEL rules on their keys within the API server's cost budget)."""


GO_DURATION_LIMIT_S = (2**63 - 1) / 1e9
"""The longest duration Go, and so CEL's duration(), holds (about 292 years)."""
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def fits_go_duration(*durations: str) -> bool:
    """Whether CEL's duration() can read every one of ``durations`` (Go-style, h down to ns).

    Past Go's range CEL stops with a conversion error and the API server refuses the object: a
    CEL rule's Python twin must refuse it too.
    """
    return all(go_seconds(d) <= GO_DURATION_LIMIT_S for d in durations)


def go_seconds(duration: str) -> float:
    """A Go duration (``1h30m``, ``1.5s``, ``200ms``) in seconds."""
    return sum(float(n) * _GO_UNITS[u] for n, u in re.findall(r"([0-9.]+)(ns|us|ms|s|m|h)", duration))


def matches(pattern: str, value: str) -> bool:
    """Python twin of CEL ``string.matches`` (RE2 search semantics).

    RE2's ``$`` matches only at the end of the text; Python's also before a final newline, so a
    pattern's closing ``$`` becomes ``\\Z`` here ("host:4317\\n" must not pass).
    """
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.search(pattern, value) is not None
