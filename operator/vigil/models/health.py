"""HTTP health checks a MonitoringStack's collector performs (the http_check receiver).

A check targets a Service of the stack's own namespace (preferred: the name cannot leave the
namespace) or a URL (anything the collector pod can reach, as any pod of the namespace could).
Its results are metrics (``httpcheck_status``, ``httpcheck_duration_milliseconds``,
``httpcheck_error``) sent to the stack's metrics sinks; the ``health-checks`` rule bundle alerts
on them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from vigil.models.base import SPACE, CelRule, LabelValueName, Port, VigilModel, is_set

# Durations Prometheus and CEL both read (no fractions): the check's interval and timeout.
CheckDuration = Annotated[str, StringConstraints(pattern=r"^([0-9]+(ms|s|m|h))+$", max_length=32)]
# Kubernetes Service names are DNS-1035 labels.
SERVICE_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# http(s), a host (name, IPv4 or [IPv6]) and optional port; no user:password@ (the URL becomes a
# label of every series), no fragment.
CHECK_URL = (
    rf"^https?://([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(:[0-9]{{1,5}})?([/?][^{SPACE}#]*)?$"
)
CHECK_PATH = rf"^/[^{SPACE}#]*$"

StatusClass = Literal["1xx", "2xx", "3xx", "4xx", "5xx"]
Method = Literal["GET", "HEAD", "POST", "OPTIONS"]

MIN_INTERVAL_S = 1
MAX_INTERVAL_S = 300
"""Prometheus forgets a series after 5 minutes without a sample (and the prometheus exporter
drops it): a longer interval would make a check vanish between two results."""


class HealthCheckService(VigilModel):
    """A Service in the stack's namespace: the check calls <scheme>://<name>.<namespace>.svc:<port><path>."""

    name: Annotated[str, StringConstraints(pattern=SERVICE_NAME, min_length=1, max_length=63)] = Field(
        description="Service name, in the stack's namespace (a check never reaches into another namespace by name)."
    )
    port: Port = Field(description="Service port number, e.g. 8080.")
    path: Annotated[str, StringConstraints(pattern=CHECK_PATH, max_length=1024)] = Field(
        default="/", description="HTTP path (and query), e.g. /health, /ready, /live or /status."
    )
    scheme: Literal["http", "https"] = Field(default="http", description="http or https.")


class HealthCheck(VigilModel):
    """One HTTP endpoint the collector calls every interval; its status and response time become metrics."""

    cel_rules = (
        CelRule(
            rule="has(self.service) != has(self.url)",
            message="set exactly one of service (a Service in this namespace, preferred) or url",
            check=lambda m: is_set(m.service) != is_set(m.url),
        ),
        CelRule(
            rule="duration(self.interval) >= duration('1s') && duration(self.interval) <= duration('5m')",
            message="interval must be between 1s and 5m (Prometheus forgets a series after 5m without a sample)",
            check=lambda m: MIN_INTERVAL_S <= seconds(m.interval) <= MAX_INTERVAL_S,
        ),
        CelRule(
            rule="duration(self.timeout) > duration('0s') && duration(self.timeout) <= duration(self.interval)",
            message="timeout must be above 0s and not longer than interval",
            check=lambda m: 0 < seconds(m.timeout) <= seconds(m.interval),
        ),
        CelRule(
            rule="!self.insecureSkipVerify || (has(self.url) && self.url.startsWith('https://')) || "
            "(has(self.service) && self.service.scheme == 'https')",
            message="insecureSkipVerify applies to https only: remove it or use an https target",
            check=lambda m: (
                not m.insecure_skip_verify
                or (m.url is not None and m.url.startswith("https://"))
                or (m.service is not None and m.service.scheme == "https")
            ),
        ),
    )

    name: LabelValueName = Field(
        description="Name of the check, unique in the stack: the health_check label of its series and "
        "of its alerts, e.g. api-ready."
    )
    service: HealthCheckService | None = Field(
        default=None,
        description="A Service of the stack's namespace to call (preferred over url).",
    )
    url: Annotated[str, StringConstraints(pattern=CHECK_URL, max_length=1024)] | None = Field(
        default=None,
        description="A full http(s) URL. It may point anywhere the collector pod can reach, as any pod "
        "in this namespace could; it is the http_url label of every series, so it must carry no "
        "credentials (user:password@ is refused).",
    )
    method: Method = Field(default="GET", description="HTTP method: GET, HEAD, POST (no body) or OPTIONS.")
    interval: CheckDuration = Field(default="30s", description="Time between two checks, 1s to 5m.")
    timeout: CheckDuration = Field(
        default="5s", description="A check that takes longer fails (counts as down); at most interval."
    )
    expected_status: list[StatusClass] = Field(
        default_factory=lambda: ["2xx"],  # type: ignore[arg-type]
        min_length=1,
        max_length=5,
        description="Status classes that count as up, e.g. [2xx] (the default) or [2xx, 3xx]. A check "
        "that gets no answer (refused, timed out) is down whatever this says.",
        json_schema_extra={"x-kubernetes-list-type": "set", "default": ["2xx"]},
    )
    insecure_skip_verify: bool = Field(default=False, description="https only: do not verify the server certificate.")

    @field_validator("expected_status")
    @classmethod
    def _each_class_once(cls, classes: list[str]) -> list[str]:
        # The API server enforces the same with x-kubernetes-list-type: set.
        for c in classes:
            if classes.count(c) > 1:
                raise ValueError(f'Duplicate value: "{c}"')
        return classes

    def target_url(self, namespace: str) -> str:
        """The URL the collector calls: ``url``, or the Service's in-cluster address in ``namespace``."""
        if self.url is not None:
            return self.url
        assert self.service is not None
        s = self.service
        return f"{s.scheme}://{s.name}.{namespace}.svc:{s.port}{s.path}"


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def seconds(duration: str) -> float:
    """A check duration (e.g. 1m30s, 500ms) in seconds."""
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h)", duration))
