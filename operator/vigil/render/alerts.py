"""An AlertPolicy's PrometheusRule and AlertmanagerConfig, a MonitoringStack's AlertmanagerConfig
for its rule bundles' alerts, and a plain alertmanager.yml.

Every alert carries ``vigil_policy: <namespace>/<name>`` (a stack's bundle alerts
``vigil_stack: <namespace>/<name>``) and ``namespace``, which prometheus-operator adds to an
AlertmanagerConfig's route, so routing matches its owner's alerts and no other.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from vigil import api
from vigil.models.bundles import BundleAlerting
from vigil.models.common import SecretKeyRef
from vigil.models.policy import (
    SCRAPES_PER_WINDOW,
    SEVERITY_RANK,
    AlertPolicy,
    AlertPolicySpec,
    Annotations,
    Receiver,
    Routing,
    format_number,
    has_window,
    seconds,
    with_window,
)
from vigil.render import meta
from vigil.render.context import RenderContext

RULE_API_VERSION = "monitoring.coreos.com/v1"
CONFIG_API_VERSION = "monitoring.coreos.com/v1alpha1"
COMPONENT = "alerting"
SECRETS_DIR = "/etc/alertmanager/secrets"
"""Where prometheus-operator mounts an Alertmanager's spec.secrets: <dir>/<secret>/<key>."""
NO_RECEIVER = "vigil_none"
"""Receiver without integrations for alerts no receiver takes; never a valid receiver name."""

# The multi-window multi-burn-rate table of the SRE workbook (chapter "Alerting on SLOs") for
# a 30-day SLO: (role, burn-rate factor, long window, short window), windows in seconds.
REFERENCE_DAYS = 30
WORKBOOK: tuple[tuple[Literal["page", "ticket"], str, int, int], ...] = (
    ("page", "14.4", 3600, 300),
    ("page", "6", 6 * 3600, 1800),
    ("ticket", "3", 24 * 3600, 2 * 3600),
    ("ticket", "1", 72 * 3600, 6 * 3600),
)
MIN_WINDOW_S = 60


@dataclass(frozen=True)
class BurnRateAlert:
    """One row of the burn-rate table: both windows above factor x the error budget."""

    role: Literal["page", "ticket"]
    factor: Decimal
    long_window: str
    short_window: str

    @property
    def budget_consumed(self) -> Decimal:
        """Share of the period's error budget spent when the long window first alerts."""
        return self.factor * Decimal(_seconds(self.long_window)) / Decimal(REFERENCE_DAYS * 86400)


# Pure and asked for once or more per SLO policy, with few distinct periods and scrape intervals.
@functools.lru_cache(maxsize=256)
def burn_rate_alerts(slo_window: str, scrape_interval: str = "1m") -> tuple[BurnRateAlert, ...]:
    """The workbook table for an SLO period, e.g. ``30d``, and a scrape interval.

    Factors stay as in the workbook; windows scale by period/30d (whole minutes), so each
    alert fires after the same share of the period's budget is spent, but no window is shorter
    than 4 scrape intervals (nor 1m): a shorter rate() range holds fewer than two samples, so
    it has no value and its alert could never fire.
    """
    days = int(slo_window.removesuffix("d"))
    floor_s = max(MIN_WINDOW_S, SCRAPES_PER_WINDOW * _seconds(scrape_interval))
    return tuple(
        BurnRateAlert(role, Decimal(factor), _scaled(long_s, days, floor_s), _scaled(short_s, days, floor_s))
        for role, factor, long_s, short_s in WORKBOOK
    )


def _scaled(window_s: int, days: int, floor_s: int) -> str:
    minutes = round(window_s * days / REFERENCE_DAYS / 60)
    return duration(max(floor_s, minutes * 60))


def duration(total_s: int) -> str:
    """Seconds as a Prometheus duration: 5400 -> ``1h30m``, 259200 -> ``3d``."""
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total_s = divmod(total_s, size)
        if count:
            out += f"{count}{unit}"
    return out or "0s"


def _seconds(text: str) -> int:
    return int(seconds(text))


def error_budget(objective: float) -> Decimal:
    """Allowed share of bad events, exactly: 99.9 -> 0.001."""
    return (Decimal(100) - Decimal(repr(objective))) / Decimal(100)


def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


@functools.lru_cache(maxsize=256, typed=True)
def _budget_text(objective: float) -> str:
    return _decimal(error_budget(objective))


# --- PrometheusRule ----------------------------------------------------------------------------


def prometheus_labels(policy: AlertPolicy, ctx: RenderContext) -> dict[str, str]:
    """Labels Prometheus/Alertmanager select on: the policy's own, else the operator's default."""
    chosen = policy.spec.prometheus_labels
    return dict(chosen if chosen is not None else ctx.prometheus_labels)


def promql_string(value: str) -> str:
    """``value`` as a PromQL string literal: double-quoted, with Go's escapes, so no value becomes syntax."""
    return json.dumps(value, ensure_ascii=False)


def policy_selector(policy: AlertPolicy) -> str:
    """PromQL label matcher of this policy's recording rules, e.g. ``{vigil_policy="ns/x"}``."""
    return f"{{{api.POLICY_LABEL}={promql_string(policy.policy_id)}}}"


def alert_labels(policy: AlertPolicy, severity: str, own: dict[str, str] | None = None) -> dict[str, str]:
    """Labels of an alert of ``policy`` at ``severity``, with that alert's ``own`` labels."""
    return {
        **policy.spec.labels,
        **(own or {}),
        api.SEVERITY_LABEL: severity,
        api.NAMESPACE_LABEL: policy.metadata.namespace or "default",
        api.POLICY_LABEL: policy.policy_id,
    }


def _annotations(default_summary: str, *layers: Annotations | None) -> dict[str, str]:
    """The default summary, overlaid by each layer's annotations in turn."""
    out = {"summary": default_summary}
    for given in layers:
        if given is None:
            continue
        if given.summary is not None:
            out["summary"] = given.summary
        if given.description is not None:
            out["description"] = given.description
        if given.runbook_url is not None:
            out["runbook_url"] = given.runbook_url
    return out


def _alert(
    policy: AlertPolicy,
    expr: str,
    severity: str,
    summary: str,
    for_: str | None,
    *,
    labels: dict[str, str] | None = None,
    annotations: Annotations | None = None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": policy.alert_name, "expr": expr}
    if for_ is not None:
        rule["for"] = for_
    if policy.spec.keep_firing_for is not None:
        rule["keep_firing_for"] = policy.spec.keep_firing_for
    rule["labels"] = alert_labels(policy, severity, labels)
    rule["annotations"] = _annotations(summary, policy.spec.annotations, annotations)
    return rule


def _record(policy: AlertPolicy, name: str, expr: str) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": {api.POLICY_LABEL: policy.policy_id}}


def ratio_record_name(window: str) -> str:
    """Recording rule of a ratio policy: ``vigil:policy_errors:ratio_rate<window>``."""
    return f"vigil:policy_errors:ratio_rate{window}"


def slo_record_name(window: str) -> str:
    """Recording rule of an SLO's error ratio: ``vigil:slo_errors:ratio_rate<window>``."""
    return f"vigil:slo_errors:ratio_rate{window}"


SLO_BUDGET_REMAINING = "vigil:slo_error_budget_remaining:ratio"


def ratio_expr(policy: AlertPolicy) -> str:
    """errors / total of a ratio policy, as the recording rule computes it."""
    ratio = policy.spec.ratio
    assert ratio is not None
    if has_window(ratio.errors):
        errors = with_window(ratio.errors, ratio.window)
        total = with_window(ratio.total, ratio.window)
        return f"({errors}) / ({total})"
    by = f" by ({', '.join(ratio.by)})" if ratio.by else ""
    errors = f"sum{by} (rate({ratio.errors}[{ratio.window}]))"
    total = f"sum{by} (rate({ratio.total}[{ratio.window}]))"
    # No error yet counts as 0, and no traffic yields no sample instead of NaN.
    return f"({errors} or 0 * {total}) / ({total} > 0)"


def slo_error_ratio_expr(policy: AlertPolicy, window: str) -> str:
    """An SLO's share of bad events over ``window``.

    A bad (or good) query without series yet counts as 0 events wherever the total has
    some, so a service that never failed records a ratio of 0 (and one that never succeeded
    a ratio of 1) instead of nothing; no traffic records nothing instead of NaN, which would
    poison the period's average for the whole period.
    """
    slo = policy.spec.slo
    assert slo is not None
    if slo.error_ratio_query is not None:
        return with_window(slo.error_ratio_query, window)
    total = f"({with_window(slo.total_query or '', window)})"
    if slo.error_query is not None:
        return f"(({with_window(slo.error_query, window)}) or 0 * {total}) / ({total} > 0)"
    good = with_window(slo.good_query or "", window)
    return f"1 - (({good}) or 0 * {total}) / ({total} > 0)"


def _threshold_rules(policy: AlertPolicy) -> list[dict[str, Any]]:
    spec = policy.spec
    base = spec.threshold
    assert base is not None
    severity = spec.severities()[-1]
    rules = [
        _alert(
            policy,
            base.rendered(),
            severity,
            f"{policy.alert_name}: {{{{ $value | humanize }}}} {base.comparison} {format_number(base.value)}",
            spec.for_,
        )
    ]
    if spec.escalation is not None:
        value = spec.escalation.value
        rules.append(
            _alert(
                policy,
                base.rendered(value),
                spec.escalation.severity,
                f"{policy.alert_name}: {{{{ $value | humanize }}}} {base.comparison} {format_number(value)}",
                spec.escalation.for_ or spec.for_,
            )
        )
    return rules


def _ratio_rules(policy: AlertPolicy) -> list[dict[str, Any]]:
    spec = policy.spec
    ratio = spec.ratio
    assert ratio is not None
    record = ratio_record_name(ratio.window)
    series = f"{record}{policy_selector(policy)}"
    rules = [_record(policy, record, ratio_expr(policy))]
    levels = [(spec.severities()[-1], ratio.value, spec.for_)]
    if spec.escalation is not None:
        esc = spec.escalation
        levels.append((esc.severity, esc.value, esc.for_ or spec.for_))
    for severity, value, for_ in levels:
        rules.append(
            _alert(
                policy,
                f"{series} {ratio.comparison} {format_number(value)}",
                severity,
                f"{policy.alert_name}: {{{{ $value | humanizePercentage }}}} over "
                f"{ratio.window} ({ratio.comparison} {format_number(value)})",
                for_,
            )
        )
    return rules


def _expr_rules(policy: AlertPolicy) -> list[dict[str, Any]]:
    spec = policy.spec
    assert spec.expr is not None
    return [
        _alert(
            policy,
            spec.expr,
            spec.severities()[-1],
            f"{policy.alert_name} is firing",
            spec.for_,
        )
    ]


@functools.lru_cache(maxsize=256)
def _burn_rate_windows(slo_window: str, scrape_interval: str) -> tuple[str, ...]:
    found = {w for a in burn_rate_alerts(slo_window, scrape_interval) for w in (a.long_window, a.short_window)}
    return tuple(sorted(found, key=_seconds))


def slo_windows(policy: AlertPolicy) -> list[str]:
    """Every window an SLO policy records an error ratio for, shortest first."""
    slo = policy.spec.slo
    assert slo is not None
    return list(_burn_rate_windows(slo.window, slo.scrape_interval))


def _slo_rules(policy: AlertPolicy) -> list[dict[str, Any]]:
    slo = policy.spec.slo
    assert slo is not None
    windows = slo_windows(policy)
    alerts = burn_rate_alerts(slo.window, slo.scrape_interval)
    budget = _budget_text(slo.objective)
    selector = policy_selector(policy)
    rules = [_record(policy, slo_record_name(w), slo_error_ratio_expr(policy, w)) for w in windows]
    # The period's ratio averages the shortest window instead of one huge range query.
    shortest = f"{slo_record_name(windows[0])}{selector}"
    rules.append(
        _record(
            policy,
            slo_record_name(slo.window),
            f"sum_over_time({shortest}[{slo.window}]) / count_over_time({shortest}[{slo.window}])",
        )
    )
    rules.append(
        _record(
            policy,
            SLO_BUDGET_REMAINING,
            f"1 - {slo_record_name(slo.window)}{selector} / {budget}",
        )
    )
    objective = format_number(slo.objective)
    speed = {"page": "fast", "ticket": "steadily"}
    for role, severity, settings in slo.alerts():
        above = [(a, f"> ({_decimal(a.factor)} * {budget})") for a in alerts if a.role == role]
        conditions = [
            f"({slo_record_name(a.long_window)}{selector} {bound} "
            f"and {slo_record_name(a.short_window)}{selector} {bound})"
            for a, bound in above
        ]
        rules.append(
            _alert(
                policy,
                " or ".join(conditions),
                severity,
                f"{policy.alert_name}: the error budget of the {objective}% SLO over {slo.window} "
                f"is burning {speed[role]}",
                policy.spec.for_,
                labels=settings.labels,
                annotations=settings.annotations,
            )
        )
    return rules


def render_rule_groups(policy: AlertPolicy) -> list[dict[str, Any]]:
    """The rule groups of ``policy``, as a Prometheus rule file holds them."""
    build = {
        "threshold": _threshold_rules,
        "ratio": _ratio_rules,
        "expr": _expr_rules,
        "slo": _slo_rules,
    }[policy.spec.alert_kind]
    namespace = policy.metadata.namespace or "default"
    return [{"name": f"vigil.{namespace}.{policy.metadata.name}", "rules": build(policy)}]


def _policy_metadata(policy: AlertPolicy, ctx: RenderContext) -> dict[str, Any]:
    """Metadata of an object generated for ``policy``: named after it, labelled for Prometheus."""
    return meta.metadata(
        meta.owner_of(policy, ctx.uid),
        meta.ObjectMetaSpec(
            meta.policy_objects_name(policy.metadata.name), COMPONENT, extra_labels=prometheus_labels(policy, ctx)
        ),
    )


def render_prometheus_rule(policy: AlertPolicy, ctx: RenderContext) -> dict[str, Any]:
    """The PrometheusRule with the recording and alerting rules of ``policy``."""
    return {
        "apiVersion": RULE_API_VERSION,
        "kind": "PrometheusRule",
        "metadata": _policy_metadata(policy, ctx),
        "spec": {"groups": render_rule_groups(policy)},
    }


# --- routing, shared by the AlertmanagerConfig and alertmanager.yml -----------------------------


@dataclass(frozen=True)
class Inhibition:
    """A higher severity of the policy's alert silences a lower one with the same labels."""

    source: str
    target: str
    equal: tuple[str, ...]


def routed_severities(raised: Sequence[str], receiver: Receiver) -> list[str] | None:
    """Which of the ``raised`` severities (highest first) go to ``receiver``; None: all of them."""
    wanted = [s for s in raised if not receiver.severities or s in receiver.severities]
    return None if wanted == list(raised) else wanted


def inhibitions(policy: AlertPolicy) -> list[Inhibition]:
    """Inhibit rules of ``policy``: each severity silences the next lower one."""
    return _inhibitions(policy.spec, policy.spec.severities())


def _inhibitions(spec: AlertPolicySpec, raised: Sequence[str]) -> list[Inhibition]:
    """:func:`inhibitions`, given the severities the policy raises, highest first."""
    routing = spec.effective_routing
    if not spec.receivers or not routing.inhibit or len(raised) < 2:
        return []
    by = list(spec.ratio.by) if spec.ratio is not None else []
    equal = [api.ALERTNAME_LABEL, api.POLICY_LABEL, *by, *routing.group_by]
    equal = [e for e in dict.fromkeys(equal) if e != api.SEVERITY_LABEL]
    return [Inhibition(high, low, tuple(equal)) for high, low in itertools.pairwise(raised)]


def _severity_pattern(severities: Sequence[str]) -> str:
    return "|".join(sorted(severities, key=lambda s: -SEVERITY_RANK[s]))


# --- AlertmanagerConfig ------------------------------------------------------------------------


def _selector(ref: SecretKeyRef) -> dict[str, str]:
    return {"name": ref.name, "key": ref.key}


def _config_receiver(receiver: Receiver) -> dict[str, Any]:
    resolved = {"sendResolved": receiver.send_resolved}
    if receiver.slack is not None:
        slack = receiver.slack
        return {
            "name": receiver.name,
            "slackConfigs": [{"apiURL": _selector(slack.api_url), "channel": slack.channel, **resolved}],
        }
    if receiver.pagerduty is not None:
        return {
            "name": receiver.name,
            "pagerdutyConfigs": [{"routingKey": _selector(receiver.pagerduty.routing_key), **resolved}],
        }
    if receiver.email is not None:
        email = receiver.email
        config: dict[str, Any] = {
            "to": ", ".join(email.to),
            "from": email.from_,
            "smarthost": email.smarthost,
            "requireTLS": email.require_tls,
        }
        if email.auth_username is not None and email.auth_password is not None:
            config["authUsername"] = email.auth_username
            config["authPassword"] = _selector(email.auth_password)
        return {"name": receiver.name, "emailConfigs": [{**config, **resolved}]}
    hook = receiver.webhook
    assert hook is not None
    target: dict[str, Any] = {"url": hook.url} if hook.url is not None else {}
    if hook.url_secret is not None:
        target = {"urlSecret": _selector(hook.url_secret)}
    return {
        "name": receiver.name,
        "webhookConfigs": [{**target, "maxAlerts": hook.max_alerts, **resolved}],
    }


def _matcher(name: str, value: str, match_type: str = "=") -> dict[str, str]:
    return {"name": name, "matchType": match_type, "value": value}


def _config_spec(
    owner_matcher: dict[str, str], receivers: Sequence[Receiver], routing: Routing, raised: Sequence[str]
) -> dict[str, Any]:
    """Route and receivers of an AlertmanagerConfig: alerts matching ``owner_matcher`` only,
    each receiver taking its share of the ``raised`` severities (highest first)."""
    children = []
    for receiver in receivers:
        child: dict[str, Any] = {"receiver": receiver.name}
        severities = routed_severities(raised, receiver)
        if severities is not None:
            child["matchers"] = [_matcher(api.SEVERITY_LABEL, _severity_pattern(severities), "=~")]
        child["continue"] = True
        children.append(child)
    return {
        "route": {
            "receiver": NO_RECEIVER,
            "matchers": [owner_matcher],
            "groupBy": list(routing.group_by),
            "groupWait": routing.group_wait,
            "groupInterval": routing.group_interval,
            "repeatInterval": routing.repeat_interval,
            "routes": children,
        },
        "receivers": [{"name": NO_RECEIVER}, *(_config_receiver(r) for r in receivers)],
    }


def render_alertmanager_config(policy: AlertPolicy, ctx: RenderContext) -> dict[str, Any] | None:
    """The AlertmanagerConfig routing ``policy``'s alerts; None when it names no receiver."""
    spec = policy.spec
    if not spec.receivers:
        return None
    policy_id, raised = policy.policy_id, spec.severities()
    config = _config_spec(_matcher(api.POLICY_LABEL, policy_id), spec.receivers, spec.effective_routing, raised)
    rules = [
        {
            "sourceMatch": [
                _matcher(api.POLICY_LABEL, policy_id),
                _matcher(api.SEVERITY_LABEL, i.source),
            ],
            "targetMatch": [
                _matcher(api.POLICY_LABEL, policy_id),
                _matcher(api.SEVERITY_LABEL, i.target),
            ],
            "equal": list(i.equal),
        }
        for i in _inhibitions(spec, raised)
    ]
    if rules:
        config["inhibitRules"] = rules
    return {
        "apiVersion": CONFIG_API_VERSION,
        "kind": "AlertmanagerConfig",
        "metadata": _policy_metadata(policy, ctx),
        "spec": config,
    }


def render_stack_alertmanager_config(
    owner: meta.Owner, alerting: BundleAlerting | None, raised: Collection[str], labels: dict[str, str]
) -> list[dict[str, Any]]:
    """The AlertmanagerConfig routing a stack's bundle alerts (``vigil_stack: <ns>/<stack>``) to its
    receivers; none without ``alerting``. ``raised`` are the bundles' severities, ``labels`` the
    labels Alertmanager selects AlertmanagerConfigs by."""
    if alerting is None:
        return []
    ordered = sorted(set(raised), key=lambda s: -SEVERITY_RANK[s])
    stack_id = f"{owner.namespace}/{owner.name}"
    spec = _config_spec(_matcher(api.STACK_LABEL, stack_id), alerting.receivers, alerting.effective_routing, ordered)
    return [
        {
            "apiVersion": CONFIG_API_VERSION,
            "kind": "AlertmanagerConfig",
            "metadata": meta.metadata(
                owner, meta.ObjectMetaSpec(meta.stack_alerting_name(owner.name), COMPONENT, extra_labels=dict(labels))
            ),
            "spec": spec,
        }
    ]


def render_policy(policy: AlertPolicy, ctx: RenderContext) -> list[dict[str, Any]]:
    """Every object for ``policy``: its PrometheusRule, then its AlertmanagerConfig if any."""
    config = render_alertmanager_config(policy, ctx)
    return [render_prometheus_rule(policy, ctx), *([config] if config is not None else [])]


# --- alertmanager.yml for an Alertmanager without prometheus-operator ---------------------------


def secret_file(ref: SecretKeyRef, secrets_dir: str = SECRETS_DIR) -> str:
    """Path a Secret key is mounted at in the Alertmanager pod: ``<dir>/<secret>/<key>``."""
    return f"{secrets_dir.rstrip('/')}/{ref.name}/{ref.key}"


def _file_receiver(name: str, receiver: Receiver, secrets_dir: str) -> dict[str, Any]:
    resolved = {"send_resolved": receiver.send_resolved}
    if receiver.slack is not None:
        slack = receiver.slack
        return {
            "name": name,
            "slack_configs": [
                {
                    "api_url_file": secret_file(slack.api_url, secrets_dir),
                    "channel": slack.channel,
                    **resolved,
                }
            ],
        }
    if receiver.pagerduty is not None:
        key = secret_file(receiver.pagerduty.routing_key, secrets_dir)
        return {"name": name, "pagerduty_configs": [{"routing_key_file": key, **resolved}]}
    if receiver.email is not None:
        email = receiver.email
        config: dict[str, Any] = {
            "to": ", ".join(email.to),
            "from": email.from_,
            "smarthost": email.smarthost,
            "require_tls": email.require_tls,
        }
        if email.auth_username is not None and email.auth_password is not None:
            config["auth_username"] = email.auth_username
            config["auth_password_file"] = secret_file(email.auth_password, secrets_dir)
        return {"name": name, "email_configs": [{**config, **resolved}]}
    hook = receiver.webhook
    assert hook is not None
    target = {"url": hook.url} if hook.url is not None else {}
    if hook.url_secret is not None:
        # url_file needs Alertmanager 0.26 or newer.
        target = {"url_file": secret_file(hook.url_secret, secrets_dir)}
    return {
        "name": name,
        "webhook_configs": [{**target, "max_alerts": hook.max_alerts, **resolved}],
    }


def _quoted(name: str, op: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}{op}"{escaped}"'


def file_receiver_name(policy: AlertPolicy, receiver: Receiver) -> str:
    """A receiver's name in alertmanager.yml: ``<namespace>/<policy>/<receiver>``."""
    return f"{policy.policy_id}/{receiver.name}"


def render_alertmanager_yaml(policies: Sequence[AlertPolicy], secrets_dir: str = SECRETS_DIR) -> dict[str, Any]:
    """One alertmanager.yml routing every policy's alerts; Secrets are read from files."""
    routes: list[dict[str, Any]] = []
    receivers: list[dict[str, Any]] = [{"name": NO_RECEIVER}]
    inhibit: list[dict[str, Any]] = []
    for policy in sorted(policies, key=lambda p: p.policy_id):
        spec = policy.spec
        if not spec.receivers:
            continue
        routing, raised = spec.effective_routing, spec.severities()
        children = []
        for receiver in spec.receivers:
            name = file_receiver_name(policy, receiver)
            child: dict[str, Any] = {"receiver": name}
            severities = routed_severities(raised, receiver)
            if severities is not None:
                child["matchers"] = [_quoted(api.SEVERITY_LABEL, "=~", _severity_pattern(severities))]
            child["continue"] = True
            children.append(child)
            receivers.append(_file_receiver(name, receiver, secrets_dir))
        routes.append(
            {
                "receiver": NO_RECEIVER,
                "matchers": [_quoted(api.POLICY_LABEL, "=", policy.policy_id)],
                "group_by": list(routing.group_by),
                "group_wait": routing.group_wait,
                "group_interval": routing.group_interval,
                "repeat_interval": routing.repeat_interval,
                "routes": children,
            }
        )
        inhibit += [
            {
                "source_matchers": [
                    _quoted(api.POLICY_LABEL, "=", policy.policy_id),
                    _quoted(api.SEVERITY_LABEL, "=", i.source),
                ],
                "target_matchers": [
                    _quoted(api.POLICY_LABEL, "=", policy.policy_id),
                    _quoted(api.SEVERITY_LABEL, "=", i.target),
                ],
                "equal": list(i.equal),
            }
            for i in _inhibitions(spec, raised)
        ]
    config: dict[str, Any] = {
        "route": {"receiver": NO_RECEIVER, "routes": routes},
        "receivers": receivers,
    }
    if inhibit:
        config["inhibit_rules"] = inhibit
    return config


def referenced_secrets(policies: Sequence[AlertPolicy]) -> list[str]:
    """Names of the Secrets an alertmanager.yml for ``policies`` reads, sorted."""
    names: set[str] = set()
    for policy in policies:
        for r in policy.spec.receivers:
            refs = [
                r.slack.api_url if r.slack else None,
                r.pagerduty.routing_key if r.pagerduty else None,
                r.email.auth_password if r.email else None,
                r.webhook.url_secret if r.webhook else None,
            ]
            names |= {ref.name for ref in refs if ref is not None}
    return sorted(names)
