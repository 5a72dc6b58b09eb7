"""Building blocks shared by the sink, stack and policy models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from vigil.models.base import (
    CREDENTIAL,
    DNS_LABEL,
    DNS_SUBDOMAIN,
    HEADER_NAME,
    NO_CONTROL,
    CelRule,
    ConfigKey,
    LabelKey,
    LabelMap,
    LabelValue,
    ObjectName,
    VigilModel,
    is_set,
    matches,
    quoted,
)


class SecretKeyRef(VigilModel):
    """A key of a Secret in the same namespace as the object that references it."""

    name: ObjectName = Field(description="Name of the Secret, in the same namespace.")
    key: ConfigKey = Field(description="Key inside the Secret whose value is used.")


class ConfigMapKeyRef(VigilModel):
    """A key of a ConfigMap in the same namespace as the object that references it."""

    name: ObjectName = Field(description="Name of the ConfigMap, in the same namespace.")
    key: ConfigKey = Field(description="Key inside the ConfigMap whose value is used.")


class ValueFrom(VigilModel):
    """Where a sensitive value comes from."""

    secret_key_ref: SecretKeyRef = Field(
        description="The Secret key holding the value; the collector receives it as an "
        "environment variable and never sees it in its config file."
    )


class SecretValue(VigilModel):
    """A value given inline or, for anything sensitive, by reference to a Secret key."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="has(self.value) != has(self.valueFrom)",
            message="set exactly one of value or valueFrom.secretKeyRef",
            check=lambda m: is_set(m.value) != is_set(m.value_from),
        ),
        # A rule, not a pattern: the API server repeats the value of a field that fails its
        # pattern in the error, and this one may hold a credential.
        CelRule(
            rule=f"!has(self.value) || !self.value.matches(r'{NO_CONTROL}')",
            message="value must not contain control characters such as CR or LF: an environment variable "
            "or header value is one line",
            check=lambda m: m.value is None or not matches(NO_CONTROL, m.value),
        ),
    )

    value: Annotated[str, StringConstraints(max_length=4096), CREDENTIAL] | None = Field(
        default=None,
        description="Inline value, one line without control characters (tab aside). Rendered into the "
        "collector's environment, never into its ConfigMap; prefer valueFrom for credentials.",
    )
    value_from: ValueFrom | None = Field(default=None, description="Reference to a Secret key holding the value.")


class Header(SecretValue):
    """One HTTP/gRPC header sent with every export request."""

    name: Annotated[str, StringConstraints(pattern=HEADER_NAME, min_length=1, max_length=256)] = Field(
        description="Header name, e.g. Authorization or X-Scope-OrgID."
    )


class CertificateSource(VigilModel):
    """PEM data from a Secret key or a ConfigMap key."""

    cel_rules = (
        CelRule(
            rule="has(self.secretKeyRef) != has(self.configMapKeyRef)",
            message="set exactly one of secretKeyRef or configMapKeyRef",
            check=lambda m: is_set(m.secret_key_ref) != is_set(m.config_map_key_ref),
        ),
    )

    secret_key_ref: SecretKeyRef | None = Field(default=None, description="Secret key holding the PEM data.")
    config_map_key_ref: ConfigMapKeyRef | None = Field(
        default=None, description="ConfigMap key holding the PEM data (CA bundles only)."
    )


class TLS(VigilModel):
    """Client TLS for an exporter; certificates are mounted from Secrets or ConfigMaps."""

    cel_rules = (
        CelRule(
            rule="has(self.cert) == has(self.key)",
            message="cert and key must be set together for client certificate authentication",
            check=lambda m: is_set(m.cert) == is_set(m.key),
        ),
        CelRule(
            rule="!has(self.key) || has(self.key.secretKeyRef)",
            message="key must come from a Secret (secretKeyRef), never a ConfigMap",
            check=lambda m: m.key is None or m.key.secret_key_ref is not None,
        ),
        CelRule(
            rule="!self.insecure || (!has(self.ca) && !has(self.cert))",
            message="insecure disables TLS: remove ca and cert, or set insecure to false",
            check=lambda m: not m.insecure or (m.ca is None and m.cert is None),
        ),
    )

    insecure: bool = Field(default=False, description="Send in plaintext (no TLS). Only for in-cluster endpoints.")
    insecure_skip_verify: bool = Field(default=False, description="Use TLS but do not verify the server certificate.")
    server_name: Annotated[str, StringConstraints(max_length=253)] | None = Field(
        default=None, description="Server name to verify instead of the endpoint's host."
    )
    ca: CertificateSource | None = Field(default=None, description="CA bundle that signs the server certificate.")
    cert: CertificateSource | None = Field(default=None, description="Client certificate for mutual TLS.")
    key: CertificateSource | None = Field(default=None, description="Client private key for mutual TLS (Secret only).")


class LabelSelectorRequirement(VigilModel):
    """One expression of a Kubernetes label selector."""

    key: LabelKey = Field(description="Label key the expression applies to.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="How the key's value is compared with values."
    )
    values: list[LabelValue] = Field(
        default_factory=list,
        max_length=64,
        description="Values for In/NotIn; must be empty for Exists/DoesNotExist.",
    )

    cel_rules = (
        CelRule(
            rule="(self.operator in ['In', 'NotIn']) == (size(self.values) > 0)",
            message="values must be non-empty for In/NotIn and empty for Exists/DoesNotExist",
            check=lambda m: (m.operator in ("In", "NotIn")) == (len(m.values) > 0),
        ),
    )


class LabelSelector(VigilModel):
    """A Kubernetes label selector (matchLabels and matchExpressions are ANDed)."""

    match_labels: LabelMap = Field(
        default_factory=dict, description="Labels that must all be present with these values."
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, max_length=32, description="Expressions that must all hold."
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy every requirement of this selector."""
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for expr in self.match_expressions:
            present = expr.key in labels
            value = labels.get(expr.key)
            ok = {
                "In": present and value in expr.values,
                "NotIn": not present or value not in expr.values,
                "Exists": present,
                "DoesNotExist": not present,
            }[expr.operator]
            if not ok:
                return False
        return True

    def to_k8s(self) -> dict[str, Any]:
        """The selector in Kubernetes wire form, empty parts left out."""
        return self.model_dump(by_alias=True, exclude_defaults=True)


class Condition(VigilModel):
    """A status condition in the Kubernetes convention (metav1.Condition)."""

    type: Annotated[str, StringConstraints(max_length=316)] = Field(
        description="Condition type: Ready, Degraded or Stalled."
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: Annotated[str, StringConstraints(max_length=1024)] = Field(
        description="CamelCase reason for the last transition."
    )
    message: Annotated[str, StringConstraints(max_length=32768)] = Field(
        default="", description="Human-readable explanation, naming the field to fix."
    )
    last_transition_time: str = Field(description="When the status last changed (RFC 3339).")
    observed_generation: int = Field(default=0, description="The .metadata.generation the condition was computed from.")


class ObjectReference(VigilModel):
    """An object Vigil generated."""

    api_version: str = Field(description="apiVersion of the generated object.")
    kind: str = Field(description="Kind of the generated object.")
    name: str = Field(description="Name of the generated object (same namespace).")


DNS_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com'), at most 253 characters"
)
DNS_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name' or '123-abc'), at most 63 characters"
)


def name_problem(name: str) -> str | None:
    """Why ``name`` is not an object name the API server accepts (a DNS-1123 subdomain), or None."""
    return None if len(name) <= 253 and matches(DNS_SUBDOMAIN, name) else DNS_SUBDOMAIN_MESSAGE


def namespace_problem(namespace: str) -> str | None:
    """Why ``namespace`` is not a namespace name (a DNS-1123 label), or None."""
    return None if len(namespace) <= 63 and matches(DNS_LABEL, namespace) else DNS_LABEL_MESSAGE


def _checked(problem: Callable[[str], str | None]) -> Callable[[str], str]:
    def check(value: str) -> str:
        found = problem(value)
        if found is not None:
            raise PydanticCustomError(
                "object_name", "Invalid value: {value}: {problem}", {"value": quoted(value), "problem": found}
            )
        return value

    return check


class ObjectMeta(BaseModel):
    """The parts of metadata Vigil reads; everything else passes through untouched.

    Names and namespaces are checked as the API server checks them: offline they are free text
    that would otherwise reach object names, labels, the collector config and PromQL.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: Annotated[str, AfterValidator(_checked(name_problem))]
    namespace: Annotated[str, AfterValidator(_checked(namespace_problem))] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = Field(default=None, alias="resourceVersion")
