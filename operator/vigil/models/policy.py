"""AlertPolicy: one alert (threshold, ratio, raw PromQL or SLO) and who gets told."""

from __future__ import annotations

import functools
import re
from typing import Annotated, Literal

import promql_parser
from pydantic import AfterValidator, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from vigil import api
from vigil.models.base import (
    CREDENTIAL,
    DNS_LABEL,
    LABEL_NAME,
    PROMETHEUS_LABELS_RULE,
    SPACE,
    CelRule,
    LabelMap,
    VigilModel,
    fits_go_duration,
    is_set,
    object_default,
    without_userinfo,
)
from vigil.models.common import Condition, ObjectMeta, ObjectReference, SecretKeyRef
from vigil.models.gotemplate import template_problem

Severity = Literal["critical", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
DEFAULT_SEVERITY: Severity = "warning"

Comparison = Literal[">", ">=", "<", "<=", "==", "!="]

WINDOW_PLACEHOLDER = "{{window}}"
"""Where an SLO (or ratio) query takes its range, e.g. ``rate(x[{{window}}])``."""
SLOTH_WINDOW_PLACEHOLDER = "{{.window}}"
"""Sloth's spelling of the placeholder (a Go template action), accepted as well."""
# Both spellings, with or without spaces inside the braces. Character classes instead of
# backslashes, so the same pattern reads the same in Python, in CEL strings and in RE2.
WINDOW_PATTERN = "[{][{] *[.]?window *[}][}]"
_WINDOW_RE = re.compile(WINDOW_PATTERN)

ALERT_KINDS = ("threshold", "ratio", "expr", "slo")

# Durations both Go (CEL's duration(), Alertmanager) and Prometheus parse: h, m, s in order.
RULE_DURATION = r"^(0|[0-9]+h([0-9]+m)?([0-9]+s)?|[0-9]+m([0-9]+s)?|[0-9]+s)$"
RANGE_DURATION = r"^([0-9]+h([0-9]+m)?([0-9]+s)?|[0-9]+m([0-9]+s)?|[0-9]+s)$"
SLO_WINDOW = r"^([1-9]|[1-8][0-9]|90)d$"
URL = rf"^https?://[^{SPACE}/]+(/[^{SPACE}]*)?$"
HOST_PORT = rf"^[^{SPACE}/:]+:[0-9]{{1,5}}$"
EMAIL = rf"^[^{SPACE}@<>,]+@[^{SPACE}@<>,]+$"
ONE_LINE = r"^[^\x00-\x1f\x7f]+$"

_RESERVED_LABELS = (
    api.ALERTNAME_LABEL,
    api.SEVERITY_LABEL,
    api.NAMESPACE_LABEL,
    api.POLICY_LABEL,
    api.STACK_LABEL,
)
_RANK_CEL = "{'info': 0, 'warning': 1, 'critical': 2}"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


# Pure, on short strings: CEL twins and renderers ask again for the same few durations.
@functools.lru_cache(maxsize=1024)
def seconds(duration: str) -> float:
    """A Prometheus duration (e.g. 1h30m, 30d) in seconds."""
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration))


# --- early checks the API server cannot do: PromQL and Go templates ---------------------------


def _leaf_type(expr: promql_parser.Expr) -> str:
    """What an expression that is not parentheses, unary or binary evaluates to."""
    if isinstance(expr, promql_parser.MatrixSelector | promql_parser.SubqueryExpr):
        return "matrix"
    if isinstance(expr, promql_parser.StringLiteral):
        return "string"
    if isinstance(expr, promql_parser.NumberLiteral):
        return "scalar"
    if isinstance(expr, promql_parser.Call):
        returned = expr.func.return_type
        names = (
            (promql_parser.ValueType.Scalar, "scalar"),
            (promql_parser.ValueType.Matrix, "matrix"),
            (promql_parser.ValueType.String, "string"),
        )
        return next((n for t, n in names if returned == t), "vector")
    return "vector"


_WRAPPERS = (promql_parser.ParenExpr, promql_parser.UnaryExpr)


def _value_type(expr: promql_parser.Expr) -> str:
    """What a parsed expression evaluates to: vector, scalar, matrix or string.

    A loop, not recursion: a query under the length cap may nest thousands of levels.
    """
    while isinstance(expr, _WRAPPERS):
        expr = expr.expr
    if not isinstance(expr, promql_parser.BinaryExpr):
        return _leaf_type(expr)
    # The parser only lets scalars and vectors meet in a binary expression: any vector makes a vector.
    pending: list[promql_parser.Expr] = [expr]
    while pending:
        node = pending.pop()
        if isinstance(node, _WRAPPERS):
            pending.append(node.expr)
        elif isinstance(node, promql_parser.BinaryExpr):
            pending += [node.lhs, node.rhs]
        elif _leaf_type(node) == "vector":
            return "vector"
    return "scalar"


def promql_problem(query: str) -> str | None:
    """Why ``query`` cannot be a rule expression (the parser's words), or None when it can."""
    try:
        parsed = promql_parser.parse(query)
    except ValueError as exc:
        return f"invalid PromQL: {exc}"
    kind = _value_type(parsed)
    if kind not in ("vector", "scalar"):
        return (
            f"invalid PromQL: a rule must evaluate to an instant vector or a scalar, not a "
            f"{'range vector' if kind == 'matrix' else kind}: wrap it in a function such as rate()"
        )
    return None


def has_window(query: str) -> bool:
    """Whether ``query`` contains the window placeholder (``{{window}}`` or ``{{.window}}``)."""
    return _WINDOW_RE.search(query) is not None


def _window_cel(field: str) -> str:
    """CEL twin of :func:`has_window` for ``field``."""
    return f"{field}.matches('{WINDOW_PATTERN}')"


def with_window(query: str, window: str) -> str:
    """``query`` with every ``{{window}}`` (or ``{{.window}}``) replaced by ``window``."""
    return window.join(_around_windows(query))


# An SLO's queries take every one of its windows in turn, at validation and at each render.
@functools.lru_cache(maxsize=256)
def _around_windows(query: str) -> tuple[str, ...]:
    return tuple(_WINDOW_RE.split(query))


def _promql_error(problem: str) -> PydanticCustomError:
    return PydanticCustomError("promql", "{problem}", {"problem": problem})


_TEMPLATE_ACTION = re.compile(r"\{\{.*?\}\}")


def _check_windowed_promql(query: str) -> str:
    # A placeholder query is parsed as it will be rendered, with a representative window.
    rendered = with_window(query, "5m")
    other = _TEMPLATE_ACTION.search(rendered)
    if other is not None:
        raise _promql_error(
            f'unknown placeholder "{other.group()}": write {WINDOW_PLACEHOLDER} (or Sloth\'s '
            f"{SLOTH_WINDOW_PLACEHOLDER}) where the range goes, e.g. rate(x[{WINDOW_PLACEHOLDER}])"
        )
    problem = promql_problem(rendered)
    if problem is not None:
        raise _promql_error(problem)
    return query


def _check_promql(query: str) -> str:
    if has_window(query):
        raise _promql_error(
            f"{WINDOW_PLACEHOLDER} belongs in ratio and slo queries only: write the range here, e.g. rate(x[5m])"
        )
    problem = promql_problem(query)
    if problem is not None:
        raise _promql_error(problem)
    return query


def _check_template(text: str) -> str:
    problem = template_problem(text)
    if problem is not None:
        raise PydanticCustomError("template", "invalid template: {problem}", {"problem": problem})
    return text


PromQL = Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_check_promql)]
WindowedPromQL = Annotated[
    str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_check_windowed_promql)
]
"""A query with {{window}} where its range goes (the CEL rules require the placeholder)."""
Template = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_check_template)]
RuleDuration = Annotated[str, StringConstraints(pattern=RULE_DURATION, max_length=32)]
RangeDuration = Annotated[str, StringConstraints(pattern=RANGE_DURATION, max_length=32)]
LabelName = Annotated[str, StringConstraints(pattern=LABEL_NAME, max_length=128)]
Number = Annotated[float, Field(allow_inf_nan=False)]


def _selector_problem(query: str) -> str | None:
    """Why ``query`` is not a plain counter selector such as ``x{code=~"5.."}``, or None."""
    try:
        parsed = promql_parser.parse(query)
    except ValueError as exc:
        return f"invalid PromQL: {exc}"
    if not isinstance(parsed, promql_parser.VectorSelector) or parsed.offset is not None or parsed.at is not None:
        return (
            'must be a counter selector such as http_requests_total{code=~"5.."}, '
            f"or a query with {WINDOW_PLACEHOLDER} where its range goes"
        )
    return None


def _check_ratio_query(query: str) -> str:
    if has_window(query):
        return _check_windowed_promql(query)
    problem = _selector_problem(query)
    if problem is not None:
        raise _promql_error(problem)
    return query


RatioQuery = Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_check_ratio_query)]


# --- the four kinds of alert ------------------------------------------------------------------


def _direction_ok(comparison: str, value: float, stricter: float) -> bool:
    if comparison in (">", ">="):
        return stricter > value
    if comparison in ("<", "<="):
        return stricter < value
    return False


class Threshold(VigilModel):
    """Alert when a PromQL expression compares to a value: ``(expr) <comparison> <value>``."""

    expr: PromQL = Field(
        description="PromQL whose result is compared, e.g. "
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))).",
    )
    comparison: Comparison = Field(description="How the result is compared with value.")
    value: Number = Field(description="The threshold, e.g. 0.5.")

    @model_validator(mode="after")
    def _check_comparison(self) -> Threshold:
        problem = promql_problem(self.rendered())
        if problem is not None:
            raise _promql_error(problem)
        return self

    def rendered(self, value: float | None = None) -> str:
        """The alerting expression, with ``value`` in place of the threshold when given."""
        threshold = self.value if value is None else value
        return f"({self.expr}) {self.comparison} {format_number(threshold)}"


class Ratio(VigilModel):
    """Alert on errors / total over a window, e.g. the share of failed tasks.

    With counter selectors the ratio is ``sum by (<by>) (rate(errors[window])) /
    sum by (<by>) (rate(total[window]))``; queries containing ``{{window}}`` are used as given.
    """

    cel_rules = (
        CelRule(
            rule=f"{_window_cel('self.errors')} == {_window_cel('self.total')}",
            message="errors and total must both be counter selectors, or both queries containing {{window}}",
            check=lambda m: has_window(m.errors) == has_window(m.total),
        ),
        CelRule(
            rule=f"size(self.by) == 0 || !{_window_cel('self.errors')}",
            message="by applies to counter selectors: aggregate inside queries that contain {{window}}",
            check=lambda m: len(m.by) == 0 or not has_window(m.errors),
        ),
    )

    errors: RatioQuery = Field(
        description="The failures: a counter selector such as "
        'aureus_tasks_completed_total{success="false"}, or a query with {{window}} as its range.',
    )
    total: RatioQuery = Field(
        description="Everything counted: a counter selector such as aureus_tasks_completed_total, "
        "or a query with {{window}} as its range.",
    )
    window: RangeDuration = Field(default="5m", description="Range of rate(), e.g. 5m.")
    by: list[LabelName] = Field(
        default_factory=list,
        max_length=16,
        description="Labels the ratio keeps (one alert per combination); empty sums everything.",
        json_schema_extra={"x-kubernetes-list-type": "set", "default": []},
    )
    comparison: Comparison = Field(description="How the ratio is compared with value.")
    value: Number = Field(description="The threshold ratio (0..1), e.g. 0.05 for 5 %.")


class Annotations(VigilModel):
    """Text of the notification; summary and description are Prometheus templates."""

    cel_rules = (without_userinfo("runbook_url", "the link is shown to everyone the alert reaches; remove them"),)

    summary: Template | None = Field(
        default=None,
        description="One line, e.g. 'Task failure rate {{ $value | humanizePercentage }}'.",
    )
    description: Template | None = Field(
        default=None, description="What is wrong and what it affects; may use {{ $labels.x }}."
    )
    runbook_url: Annotated[str, StringConstraints(pattern=URL, max_length=2048)] | None = Field(
        default=None, description="Link to the runbook, sent as the runbook_url annotation."
    )


_RESERVED_LABELS_MESSAGE = (
    "labels must not set "
    + ", ".join(_RESERVED_LABELS[:-1])
    + f" or {_RESERVED_LABELS[-1]}: Vigil sets them (use spec.severity for the severity)"
)


def _reserved_labels_cel() -> str:
    return "!has(self.labels) || !self.labels.exists(k, k in [" + ", ".join(f"'{k}'" for k in _RESERVED_LABELS) + "])"


class SLOAlert(VigilModel):
    """One of an SLO's two alerts, page or ticket: whether it is generated, and what it carries."""

    cel_rules = (
        CelRule(
            rule=_reserved_labels_cel(),
            message="labels must not set "
            + ", ".join(_RESERVED_LABELS[:-1])
            + f" or {_RESERVED_LABELS[-1]}: Vigil sets them (use slo.pageSeverity or "
            "slo.ticketSeverity for the severity)",
            check=lambda m: not set(m.labels) & set(_RESERVED_LABELS),
        ),
    )

    disabled: bool = Field(
        default=False,
        description="Do not generate this alert (its recording rules stay), e.g. no tickets for a batch job.",
    )
    labels: Annotated[dict[LabelName, Template], PROMETHEUS_LABELS_RULE] = Field(
        default_factory=dict,
        max_length=32,
        description="Labels of this alert only, on top of spec.labels, e.g. routing_key: payments-oncall.",
    )
    annotations: Annotations | None = Field(
        default=None,
        description="summary, description and runbookUrl of this alert only, in place of spec.annotations' own.",
    )


DEFAULT_SLO_ALERT = SLOAlert()
"""The settings of an SLO alert left unset; frozen, so every SLO shares this one."""


_QUERIES = ("errorQuery", "goodQuery", "errorRatioQuery", "totalQuery")
SCRAPES_PER_WINDOW = 4
"""Every burn-rate window spans at least this many scrape intervals, so rate() has samples."""


class SLO(VigilModel):
    """A service level objective, alerted on with multi-window multi-burn-rate alerts.

    Page alerts fire at 14.4x (1h and 5m windows) and 6x (6h and 30m) the sustainable error
    rate, tickets at 3x (1d and 2h) and 1x (3d and 6h), for a 30d window; other windows scale
    the alert windows by window/30d, never below 4 scrape intervals (docs/alert-policies.md).
    """

    cel_rules = (
        CelRule(
            rule="(has(self.errorQuery) ? 1 : 0) + (has(self.goodQuery) ? 1 : 0) + "
            "(has(self.errorRatioQuery) ? 1 : 0) == 1",
            message="set exactly one of errorQuery or goodQuery (each with totalQuery), or errorRatioQuery",
            check=lambda m: sum(is_set(q) for q in (m.error_query, m.good_query, m.error_ratio_query)) == 1,
        ),
        CelRule(
            rule="has(self.totalQuery) != has(self.errorRatioQuery)",
            message="totalQuery is required with errorQuery or goodQuery, and must be left out "
            "with errorRatioQuery (already a ratio)",
            check=lambda m: is_set(m.total_query) != is_set(m.error_ratio_query),
        ),
        CelRule(
            rule=" && ".join(f"(!has(self.{q}) || {_window_cel('self.' + q)})" for q in _QUERIES),
            message="errorQuery, goodQuery, errorRatioQuery and totalQuery must contain {{window}} "
            "(or Sloth's {{.window}}) where the range goes, e.g. sum(rate(http_requests_total[{{window}}]))",
            check=lambda m: all(has_window(q) for q in m.queries() if q is not None),
        ),
        CelRule(
            rule="(has(self.pageAlert) && self.pageAlert.disabled) || "
            "(has(self.ticketAlert) && self.ticketAlert.disabled) || "
            f"{_RANK_CEL}[self.pageSeverity] > {_RANK_CEL}[self.ticketSeverity]",
            message="pageSeverity must be higher than ticketSeverity",
            check=lambda m: (
                m.page_alert.disabled
                or m.ticket_alert.disabled
                or SEVERITY_RANK[m.page_severity] > SEVERITY_RANK[m.ticket_severity]
            ),
        ),
        CelRule(
            rule="duration(self.scrapeInterval) >= duration('1s') && duration(self.scrapeInterval) <= duration('5m')",
            message="scrapeInterval must be between 1s and 5m (Prometheus marks a series stale "
            "after 5m without a sample)",
            check=lambda m: fits_go_duration(m.scrape_interval) and 1 <= seconds(m.scrape_interval) <= 300,
        ),
    )

    objective: float = Field(gt=0, lt=100, description="Target share of good events in percent, e.g. 99.9.")
    window: Annotated[str, StringConstraints(pattern=SLO_WINDOW, max_length=3)] = Field(
        default="30d", description="The SLO period in days, 1d to 90d, e.g. 30d or 28d."
    )
    scrape_interval: RangeDuration = Field(
        default="1m",
        description="The longest scrape interval of the series the queries read (default 1m, "
        "Prometheus' default). Every alert window is at least 4 scrape intervals long, so a "
        "short SLO period still has samples to alert on.",
    )
    error_query: WindowedPromQL | None = Field(
        default=None,
        description="Rate of bad events with {{window}} as range, e.g. "
        'sum(rate(http_requests_total{code=~"5.."}[{{window}}])). No series counts as 0 errors.',
    )
    good_query: WindowedPromQL | None = Field(
        default=None,
        description="Rate of good events with {{window}} as range (instead of errorQuery).",
    )
    error_ratio_query: WindowedPromQL | None = Field(
        default=None,
        description="The share of bad events (0..1) with {{window}} as range, used as given "
        "(Sloth's raw SLI; instead of errorQuery or goodQuery, without totalQuery). It must "
        "return 0, not nothing, when there are no errors.",
    )
    total_query: WindowedPromQL | None = Field(
        default=None,
        description="Rate of all events with {{window}} as range, e.g. sum(rate(http_requests_total[{{window}}])). "
        "Required with errorQuery and goodQuery.",
    )
    page_severity: Severity = Field(default="critical", description="Severity of the page alerts (fast burn).")
    ticket_severity: Severity = Field(default="warning", description="Severity of the ticket alerts (slow burn).")
    page_alert: SLOAlert = Field(
        default_factory=lambda: DEFAULT_SLO_ALERT,
        description="The page alert (fast burn): disable it, or give it labels and annotations of its own.",
        json_schema_extra=object_default(SLOAlert),
    )
    ticket_alert: SLOAlert = Field(
        default_factory=lambda: DEFAULT_SLO_ALERT,
        description="The ticket alert (slow burn): disable it, or give it labels and annotations of its own.",
        json_schema_extra=object_default(SLOAlert),
    )

    def queries(self) -> tuple[str | None, ...]:
        """errorQuery, goodQuery, errorRatioQuery and totalQuery (None when unset)."""
        return (self.error_query, self.good_query, self.error_ratio_query, self.total_query)

    def alerts(self) -> list[tuple[Literal["page", "ticket"], Severity, SLOAlert]]:
        """The enabled alerts as (role, severity, settings), page first."""
        both: list[tuple[Literal["page", "ticket"], Severity, SLOAlert]] = [
            ("page", self.page_severity, self.page_alert),
            ("ticket", self.ticket_severity, self.ticket_alert),
        ]
        return [a for a in both if not a[2].disabled]


class Escalation(VigilModel):
    """A second, stricter threshold that raises the alert to a higher severity."""

    value: Number = Field(description="The stricter threshold: above value for > and >=, below it for < and <=.")
    severity: Severity = Field(default="critical", description="Severity of the escalated alert (default critical).")
    for_: RuleDuration | None = Field(
        default=None,
        alias="for",
        description="How long the stricter condition must hold; default: spec.for.",
    )


# --- annotations and receivers ----------------------------------------------------------------


class SlackReceiver(VigilModel):
    """Post to a Slack channel through an incoming webhook."""

    channel: Annotated[str, StringConstraints(pattern=rf"^[#@]?[^{SPACE}]+$", max_length=80)] = Field(
        description="Channel (#alerts) or user (@someone)."
    )
    api_url: SecretKeyRef = Field(
        alias="apiURL",
        description="Secret key holding the incoming-webhook URL (it contains a credential).",
    )


class PagerDutyReceiver(VigilModel):
    """Open PagerDuty incidents (Events API v2)."""

    routing_key: SecretKeyRef = Field(description="Secret key holding the integration's routing key.")


class EmailReceiver(VigilModel):
    """Send email through an SMTP server."""

    cel_rules = (
        CelRule(
            rule="has(self.authUsername) == has(self.authPassword)",
            message="authUsername and authPassword must be set together",
            check=lambda m: is_set(m.auth_username) == is_set(m.auth_password),
        ),
    )

    to: list[Annotated[str, StringConstraints(pattern=EMAIL, max_length=254)]] = Field(
        min_length=1, max_length=16, description="Recipients, e.g. [ops@company.com]."
    )
    from_: Annotated[str, StringConstraints(pattern=EMAIL, max_length=254)] = Field(
        alias="from", description="Sender address."
    )
    smarthost: Annotated[str, StringConstraints(pattern=HOST_PORT, max_length=256)] = Field(
        description="SMTP server as host:port, e.g. smtp.company.com:587."
    )
    auth_username: Annotated[str, StringConstraints(pattern=ONE_LINE, min_length=1, max_length=256)] | None = Field(
        default=None, description="SMTP user name."
    )
    auth_password: SecretKeyRef | None = Field(default=None, description="Secret key holding the SMTP password.")
    require_tls: bool = Field(default=True, description="Require STARTTLS.")


class WebhookReceiver(VigilModel):
    """POST Alertmanager's JSON to a URL."""

    cel_rules = (
        CelRule(
            rule="has(self.url) != has(self.urlSecret)",
            message="set exactly one of url or urlSecret",
            check=lambda m: is_set(m.url) != is_set(m.url_secret),
        ),
        without_userinfo("url", "put the URL in a Secret and set urlSecret instead"),
    )

    url: Annotated[str, StringConstraints(pattern=URL, max_length=2048), CREDENTIAL] | None = Field(
        default=None, description="Where to POST, when the URL holds no credential."
    )
    url_secret: SecretKeyRef | None = Field(
        default=None, description="Secret key holding the URL, when it contains a token."
    )
    max_alerts: int = Field(default=0, ge=0, le=10000, description="Alerts per message at most (0: all).")


RECEIVER_TYPES = ("slack", "pagerduty", "email", "webhook")


class Receiver(VigilModel):
    """Who gets told, and about which severities."""

    cel_rules = (
        CelRule(
            rule=" + ".join(f"(has(self.{t}) ? 1 : 0)" for t in RECEIVER_TYPES) + " == 1",
            message="set exactly one receiver type: slack, pagerduty, email or webhook",
            check=lambda m: len(m.types()) == 1,
        ),
    )

    name: Annotated[str, StringConstraints(pattern=DNS_LABEL, min_length=1, max_length=63)] = Field(
        description="Name of this receiver, unique in the policy, e.g. oncall."
    )
    severities: list[Severity] = Field(
        default_factory=list,
        max_length=3,
        description="Severities sent here, e.g. [critical] for a pager; empty: every severity.",
        json_schema_extra={"x-kubernetes-list-type": "set", "default": []},
    )
    send_resolved: bool = Field(default=True, description="Also notify when the alert resolves.")
    slack: SlackReceiver | None = Field(default=None, description="Slack channel.")
    pagerduty: PagerDutyReceiver | None = Field(default=None, description="PagerDuty service.")
    email: EmailReceiver | None = Field(default=None, description="Email via SMTP.")
    webhook: WebhookReceiver | None = Field(default=None, description="Generic webhook.")

    def types(self) -> list[str]:
        """Wire names of the receiver types that are set (exactly one when valid)."""
        return [t for t in RECEIVER_TYPES if getattr(self, t) is not None]

    @property
    def type(self) -> str:
        """This receiver's type: slack, pagerduty, email or webhook."""
        return self.types()[0]


def unique_receivers(receivers: list[Receiver]) -> list[Receiver]:
    """``receivers`` when their names are unique; ValueError naming the first duplicate."""
    # The CRD's list-map keyed by name rejects duplicates the same way.
    names = [r.name for r in receivers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f'Duplicate value: "{name}": receiver names must be unique')
    return receivers


class Routing(VigilModel):
    """How Alertmanager groups and repeats this policy's notifications."""

    cel_rules = (
        CelRule(
            rule="duration(self.groupInterval) > duration('0s') && duration(self.repeatInterval) > duration('0s')",
            message="groupInterval and repeatInterval must be longer than 0s",
            check=lambda m: (
                fits_go_duration(m.group_interval, m.repeat_interval)
                and seconds(m.group_interval) > 0
                and seconds(m.repeat_interval) > 0
            ),
        ),
        CelRule(
            rule="duration(self.repeatInterval) >= duration(self.groupInterval)",
            message="repeatInterval (the cooldown) must not be shorter than groupInterval",
            check=lambda m: (
                fits_go_duration(m.group_interval, m.repeat_interval)
                and seconds(m.repeat_interval) >= seconds(m.group_interval)
            ),
        ),
    )

    group_by: list[LabelName] = Field(
        default_factory=lambda: [api.ALERTNAME_LABEL],
        max_length=16,
        description="Labels that split notifications into groups; alerts with the same values arrive together.",
        json_schema_extra={"x-kubernetes-list-type": "set", "default": [api.ALERTNAME_LABEL]},
    )
    group_wait: RuleDuration = Field(default="30s", description="Wait this long to gather a new group's first alerts.")
    group_interval: RuleDuration = Field(
        default="5m", description="Wait this long before notifying about changes to a group."
    )
    repeat_interval: RuleDuration = Field(
        default="4h",
        description="Cooldown: wait this long before repeating a notification that was sent.",
    )
    inhibit: bool = Field(
        default=True,
        description="A firing alert of the higher severity silences the lower severity of the "
        "same alert (escalation and slo).",
    )


DEFAULT_ROUTING = Routing()
"""Routing when none is given; frozen, so every policy and stack shares this one."""


# --- the spec --------------------------------------------------------------------------------


def _raised(m: AlertPolicySpec) -> set[str]:
    return set(m.severities())


_PAGE_ON_CEL = "(!has(self.slo.pageAlert) || !self.slo.pageAlert.disabled)"
_TICKET_ON_CEL = "(!has(self.slo.ticketAlert) || !self.slo.ticketAlert.disabled)"
_RAISED_CEL = (
    f"(has(self.slo) ? ((s == self.slo.pageSeverity && {_PAGE_ON_CEL}) || "
    f"(s == self.slo.ticketSeverity && {_TICKET_ON_CEL})) : "
    f"(s == (has(self.severity) ? self.severity : '{DEFAULT_SEVERITY}') || "
    "(has(self.escalation) && s == self.escalation.severity)))"
)


def _stricter_cel(kind: str) -> str:
    c, v, e = f"self.{kind}.comparison", f"self.{kind}.value", "self.escalation.value"
    return f"(({c} == '>' || {c} == '>=') && {e} > {v}) || (({c} == '<' || {c} == '<=') && {e} < {v})"


def _stricter(m: AlertPolicySpec) -> bool:
    if m.escalation is None:
        return True
    base = m.threshold or m.ratio
    if base is None:
        return True
    return _direction_ok(base.comparison, base.value, m.escalation.value)


class AlertPolicySpec(VigilModel):
    """Desired state of an AlertPolicy."""

    cel_rules = (
        CelRule(
            rule=" + ".join(f"(has(self.{k}) ? 1 : 0)" for k in ALERT_KINDS) + " == 1",
            message="set exactly one kind of alert: threshold, ratio, expr or slo",
            check=lambda m: len(m.kinds()) == 1,
        ),
        CelRule(
            rule="!has(self.slo) || !has(self.severity)",
            message="severity does not apply to slo: set slo.pageSeverity and slo.ticketSeverity",
            check=lambda m: m.slo is None or m.severity is None,
        ),
        CelRule(
            rule="!has(self.escalation) || has(self.threshold) || has(self.ratio)",
            message="escalation applies to threshold and ratio alerts (an slo pages by itself)",
            check=lambda m: m.escalation is None or m.threshold is not None or m.ratio is not None,
        ),
        CelRule(
            rule=f"!has(self.escalation) || {_RANK_CEL}[self.escalation.severity] > "
            f"{_RANK_CEL}[has(self.severity) ? self.severity : '{DEFAULT_SEVERITY}']",
            message="escalation.severity must be higher than severity",
            check=lambda m: (
                m.escalation is None
                or SEVERITY_RANK[m.escalation.severity] > SEVERITY_RANK[m.severity or DEFAULT_SEVERITY]
            ),
        ),
        CelRule(
            rule="!has(self.escalation) || "
            f"(has(self.threshold) && ({_stricter_cel('threshold')})) || "
            f"(has(self.ratio) && ({_stricter_cel('ratio')})) || "
            "(!has(self.threshold) && !has(self.ratio))",
            message="escalation.value must be stricter than value: above it for > and >=, below "
            "it for < and <= (== and != cannot escalate)",
            check=_stricter,
        ),
        CelRule(
            rule=_reserved_labels_cel(),
            message=_RESERVED_LABELS_MESSAGE,
            check=lambda m: not set(m.labels) & set(_RESERVED_LABELS),
        ),
        CelRule(
            rule="!has(self.routing) || (has(self.receivers) && size(self.receivers) > 0)",
            message="routing applies to receivers: add at least one receiver or remove routing",
            check=lambda m: m.routing is None or len(m.receivers) > 0,
        ),
        CelRule(
            rule="!has(self.receivers) || self.receivers.all(r, !has(r.severities) || "
            f"size(r.severities) == 0 || r.severities.exists(s, {_RAISED_CEL}))",
            message="every receiver must take at least one severity this policy raises",
            check=lambda m: all(not r.severities or set(r.severities) & _raised(m) for r in m.receivers),
        ),
        CelRule(
            rule=f"!has(self.slo) || {_PAGE_ON_CEL} || {_TICKET_ON_CEL} || "
            "!has(self.receivers) || size(self.receivers) == 0",
            message="with slo.pageAlert and slo.ticketAlert disabled the policy raises no alert: "
            "remove receivers (and routing), or enable one of the alerts",
            check=lambda m: m.slo is None or bool(m.slo.alerts()) or not m.receivers,
        ),
    )

    threshold: Threshold | None = Field(default=None, description="Alert when a PromQL result crosses a value.")
    ratio: Ratio | None = Field(default=None, description="Alert when errors / total over a window crosses a value.")
    expr: PromQL | None = Field(
        default=None,
        description="Raw PromQL alert condition for experts: every series it returns alerts.",
    )
    slo: SLO | None = Field(default=None, description="A service level objective with burn-rate alerts.")
    alert_name: Annotated[str, StringConstraints(pattern=LABEL_NAME, max_length=128)] | None = Field(
        default=None,
        description="The alertname; default: the object's name in CamelCase (task-failure-rate -> TaskFailureRate).",
    )
    severity: Severity | None = Field(
        default=None,
        description="critical, warning or info (default warning). Not for slo: see "
        "slo.pageSeverity and slo.ticketSeverity.",
    )
    for_: RuleDuration | None = Field(
        default=None,
        alias="for",
        description="How long the condition must hold before the alert fires, e.g. 5m.",
    )
    keep_firing_for: RuleDuration | None = Field(
        default=None,
        description="Keep firing this long after the condition clears (avoids flapping).",
    )
    labels: Annotated[dict[LabelName, Template], PROMETHEUS_LABELS_RULE] = Field(
        default_factory=dict,
        max_length=32,
        description="Extra labels on every alert, e.g. team: payments.",
    )
    annotations: Annotations | None = Field(
        default=None, description="summary, description and runbookUrl of the notification."
    )
    escalation: Escalation | None = Field(
        default=None,
        description="threshold and ratio: a stricter value that raises a higher severity, e.g. "
        "warning above 0.05 and critical above 0.2.",
    )
    receivers: list[Receiver] = Field(
        default_factory=list,
        max_length=16,
        description="Who gets told. Empty: the alerts go to whatever your Alertmanager routes "
        "them to; no AlertmanagerConfig is created.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    routing: Routing | None = Field(
        default=None,
        description="Grouping, wait, cooldown (repeatInterval) and inhibition; defaults apply when unset.",
    )
    prometheus_labels: LabelMap | None = Field(
        default=None,
        description="Labels your Prometheus and Alertmanager select PrometheusRules and "
        "AlertmanagerConfigs by, e.g. release: kube-prometheus-stack. Unset: the operator's "
        "default (Helm value).",
    )

    def kinds(self) -> list[str]:
        """Wire names of the alert kinds that are set (exactly one when valid)."""
        return [k for k in ALERT_KINDS if getattr(self, k) is not None]

    @property
    def alert_kind(self) -> str:
        """This policy's kind of alert: threshold, ratio, expr or slo."""
        return self.kinds()[0]

    def severities(self) -> list[str]:
        """Severities this policy raises, highest first."""
        if self.slo is not None:
            found = {severity for _, severity, _ in self.slo.alerts()}
        else:
            found = {self.severity or DEFAULT_SEVERITY}
            if self.escalation is not None:
                found.add(self.escalation.severity)
        return sorted(found, key=lambda s: -SEVERITY_RANK[s])

    @property
    def effective_routing(self) -> Routing:
        """spec.routing, or its defaults."""
        return self.routing or DEFAULT_ROUTING


class AlertPolicyStatus(VigilModel):
    """Observed state of an AlertPolicy."""

    observed_generation: int = Field(default=0, description="Generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready, Degraded and Stalled.")
    alert_kind: str = Field(default="", description="threshold, ratio, expr or slo.")
    alert_name: str = Field(default="", description="The alertname the rules use.")
    severity: str = Field(
        default="",
        description="Severities the policy raises, highest first, e.g. critical,warning.",
    )
    receivers: list[str] = Field(default_factory=list, description="Receivers notified.")
    generated_objects: list[ObjectReference] = Field(
        default_factory=list, description="Objects the operator created for this policy."
    )


class AlertPolicy(VigilModel):
    """An AlertPolicy object as stored in the API server."""

    api_version: Literal["vigil.dev/v1alpha1"] = Field(description="vigil.dev/v1alpha1")
    kind: Literal["AlertPolicy"] = Field(description="AlertPolicy")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: AlertPolicySpec = Field(description="Desired state.")
    status: AlertPolicyStatus | None = Field(default=None, description="Observed state.")

    @property
    def alert_name(self) -> str:
        """spec.alertName, or the object's name in CamelCase."""
        return self.spec.alert_name or default_alert_name(self.metadata.name)

    @property
    def policy_id(self) -> str:
        """``<namespace>/<name>``: the value of the label that routes this policy's alerts."""
        return f"{self.metadata.namespace or 'default'}/{self.metadata.name}"


@functools.lru_cache(maxsize=1024)
def default_alert_name(name: str) -> str:
    """``task-failure-rate`` -> ``TaskFailureRate`` (a valid alertname)."""
    camel = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^a-zA-Z0-9]+", name))
    return camel if camel[:1].isalpha() else f"Alert{camel}"


def format_number(value: float) -> str:
    """A number as PromQL writes it: 5 for 5.0, 0.05 for 0.05."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
