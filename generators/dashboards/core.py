"""Building blocks of every Vigil dashboard: variables, panels, thresholds, layout, JSON.

The conventions are kubernetes-mixin's: a fixed ``uid``, a ``datasource`` variable used by every
panel, query, variable and annotation, ``namespace`` and ``job`` variables, ``$__rate_interval``
in every rate over a raw counter, a unit and thresholds on every panel, rows, and a description
on every panel.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import yaml
from grafana_foundation_sdk.builders import bargauge, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from vigil.assets import rules_dir

GRID_WIDTH = 24
UID_PREFIX = "vigil-"
TAG = "vigil"

DATASOURCE = common.DataSourceRef(type_val="prometheus", uid="${datasource}")
"""Where every panel, query, variable and annotation reads from: the ``datasource`` variable."""

ALL = "$__all"
MATCH_ALL = ".*"

# Threshold colours (Grafana's named palette).
GREEN = "green"
ORANGE = "orange"
RED = "red"
BLUE = "blue"

# Units (Grafana unit ids).
PERCENT_UNIT = "percentunit"  # 0..1 shown as a percentage
PERCENT = "percent"  # 0..100
SECONDS = "s"
MILLISECONDS = "ms"
BYTES = "bytes"
PER_SECOND = "ops"  # items per second
PER_MINUTE = "opm"
COUNT = "short"
CORES = "short"


def uid(name: str) -> str:
    """The fixed Grafana uid of dashboard ``name`` (at most 40 characters)."""
    return f"{UID_PREFIX}{name}"


def selector(*extra: str, job: bool = True) -> str:
    """Label matchers for the dashboard's variables, plus ``extra`` matchers."""
    matchers = ['namespace=~"$namespace"']
    if job:
        matchers.append('job=~"$job"')
    return "{" + ", ".join([*matchers, *extra]) + "}"


def _by(labels: str) -> str:
    return f" by ({labels})" if labels else ""


def rate(metric: str, *matchers: str, by: str = "", job: bool = True) -> str:
    """``sum by (by) (rate(metric{variables, matchers}[$__rate_interval]))``."""
    return f"sum{_by(by)} (rate({metric}{selector(*matchers, job=job)}[$__rate_interval]))"


def increase(metric: str, *matchers: str, by: str = "", job: bool = True) -> str:
    """``sum by (by) (increase(metric{...}[$__range]))``: the count over the time range."""
    return f"sum{_by(by)} (increase({metric}{selector(*matchers, job=job)}[$__range]))"


def recorded(record: str, *matchers: str, job: bool = True) -> str:
    """A recording rule's series for the dashboard's variables."""
    return f"{record}{selector(*matchers, job=job)}"


@cache
def bundle_alerts(bundle: str, *groups: str) -> tuple[str, ...]:
    """Alert names of rule bundle ``bundle`` (rules/<bundle>.yaml), in file order.

    With ``groups``, only the alerts of rule groups whose name ends with one of them.
    """
    doc = yaml.safe_load((rules_dir() / f"{bundle}.yaml").read_text())
    return tuple(
        r["alert"]
        for g in doc["groups"]
        if not groups or g["name"].endswith(groups)
        for r in g["rules"]
        if "alert" in r
    )


def alerts_regex(alerts: Sequence[str]) -> str:
    """A regex matching exactly ``alerts`` (for ``ALERTS{alertname=~...}``)."""
    return "|".join(alerts)


# Thresholds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Steps:
    """Threshold steps: a base colour, then (value, colour) pairs in ascending order."""

    base: str
    steps: tuple[tuple[float, str], ...] = ()

    def builder(self) -> builders.ThresholdsConfig:
        """The SDK's thresholds builder (absolute mode)."""
        return (
            builders.ThresholdsConfig()
            .mode(models.ThresholdsMode.ABSOLUTE)
            .steps(
                [
                    models.Threshold(value=None, color=self.base),
                    *(models.Threshold(value=v, color=c) for v, c in self.steps),
                ]
            )
        )

    @property
    def neutral(self) -> bool:
        """No value is good or bad: nothing to draw on a graph."""
        return not self.steps


NEUTRAL = Steps(GREEN)


def above(limit: float, warn: float | None = None) -> Steps:
    """Bad above ``limit`` (red), optionally worrying above ``warn`` (orange)."""
    steps = ((warn, ORANGE),) if warn is not None else ()
    return Steps(GREEN, (*steps, (limit, RED)))


def below(limit: float, warn: float | None = None) -> Steps:
    """Bad below ``limit`` (red), optionally worrying below ``warn`` (orange)."""
    if warn is None:
        return Steps(RED, ((limit, GREEN),))
    return Steps(RED, ((limit, ORANGE), (warn, GREEN)))


# Queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False

    def builder(self, ref_id: str) -> prometheus.Dataquery:
        """The SDK's Prometheus query builder, reading from the datasource variable."""
        q = (
            prometheus.Dataquery()
            .datasource(DATASOURCE)
            .expr(self.expr)
            .ref_id(ref_id)
            .legend_format(self.legend or "__auto")
        )
        q = q.instant() if self.instant else q.range()
        if self.table:
            q = q.format(prometheus_models.PromQueryFormat.TABLE)
        return q


def _ref_id(index: int) -> str:
    return chr(ord("A") + index)


def _targets(queries: Sequence[Query]) -> list[Builder[Any]]:
    return [q.builder(_ref_id(i)) for i, q in enumerate(queries)]


def _whole_range(queries: Sequence[Query]) -> list[Query]:
    # A query over the whole time range has one meaningful value: ask for it once.
    return [Query(q.expr, q.legend, instant=True, table=q.table) if "$__range" in q.expr else q for q in queries]


# Panels ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """A panel builder and the room it takes on the grid."""

    builder: Builder[models.Panel]
    width: int
    height: int


_B = TypeVar("_B", stat.Panel, timeseries.Panel, bargauge.Panel, table.Panel, builders.Panel)


def _described(b: _B, title: str, description: str, unit: str, steps: Steps) -> _B:
    """``b`` with what every panel states: its title, description, unit and thresholds."""
    return b.title(title).description(description).unit(unit).thresholds(steps.builder())


_Current = TypeVar("_Current", stat.Panel, bargauge.Panel)
_Scaled = TypeVar("_Scaled", timeseries.Panel, bargauge.Panel)


def _current_values(b: _Current, queries: Sequence[Query]) -> _Current:
    """``b`` showing the last value of each series of ``queries``, coloured by its thresholds."""
    return (
        b.targets(_targets(_whole_range(queries)))
        .color_scheme(builders.FieldColor().mode(models.FieldColorModeId.THRESHOLDS))
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def _bounded(b: _Scaled, minimum: float | None, maximum: float | None) -> _Scaled:
    """``b`` with the axis or gauge bounds that are given."""
    if minimum is not None:
        b = b.min(minimum)
    if maximum is not None:
        b = b.max(maximum)
    return b


def stat_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    steps: Steps,
    width: int = 4,
    height: int = 4,
    decimals: int | None = None,
) -> Panel:
    """A single big number (the seed's "cards"), coloured by its thresholds."""
    b = (
        _current_values(_described(stat.Panel(), title, description, unit, steps), queries)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
    )
    if decimals is not None:
        b = b.decimals(decimals)
    return Panel(b, width, height)


def count_stat_panel(title: str, description: str, expr: str, *, steps: Steps = NEUTRAL, width: int = 4) -> Panel:
    """A stat of how many things ``expr`` counts, shown as a whole number."""
    return stat_panel(title, description, [Query(expr)], unit=COUNT, steps=steps, decimals=0, width=width)


def targets_up_panel(title: str, description: str) -> Panel:
    """The share of the selected jobs' scrape targets up at the last scrape; red below all of them."""
    return stat_panel(title, description, [Query(f"avg(up{selector()})")], unit=PERCENT_UNIT, steps=below(1))


def timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    steps: Steps = NEUTRAL,
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
    bars: bool = False,
    minimum: float | None = 0,
    maximum: float | None = None,
) -> Panel:
    """A graph over time; thresholds other than neutral are drawn as dashed lines."""
    b = (
        _described(timeseries.Panel(), title, description, unit, steps)
        .targets(_targets(queries))
        .color_scheme(builders.FieldColor().mode(models.FieldColorModeId.PALETTE_CLASSIC))
        .line_width(1)
        .fill_opacity(60 if bars else 10)
        .draw_style(common.GraphDrawStyle.BARS if bars else common.GraphDrawStyle.LINE)
        .show_points(common.VisibilityMode.NEVER)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING)
        )
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.OFF if steps.neutral else common.GraphThresholdsStyleMode.DASHED
            )
        )
    )
    if stacked:
        b = b.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    return Panel(_bounded(b, minimum, maximum), width, height)


def rate_by_panel(
    title: str,
    description: str,
    metric: str,
    *matchers: str,
    by: str,
    legend: str = "",
    unit: str = PER_SECOND,
    stacked: bool = False,
    width: int = 12,
) -> Panel:
    """A graph of counter ``metric``'s rate, one series per value of the ``by`` labels.

    The legend names those values (``{{status}}``, ``{{agent}} {{operation}}``) unless ``legend`` is given.
    """
    legend = legend or " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(","))
    return timeseries_panel(
        title, description, [Query(rate(metric, *matchers, by=by), legend)], unit=unit, stacked=stacked, width=width
    )


def bargauge_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    steps: Steps,
    width: int = 12,
    height: int = 8,
    minimum: float | None = 0,
    maximum: float | None = None,
) -> Panel:
    """Horizontal bars, one per series, for comparing current values."""
    b = (
        _current_values(_described(bargauge.Panel(), title, description, unit, steps), queries)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
        .show_unfilled(True)
    )
    return Panel(_bounded(b, minimum, maximum), width, height)


@dataclass(frozen=True)
class Column:
    """One value column of a comparison table: an instant query and how to show it."""

    title: str
    query: Query
    unit: str
    steps: Steps = NEUTRAL


def table_panel(
    title: str,
    description: str,
    key_labels: Sequence[str],
    columns: Sequence[Column],
    *,
    width: int = 24,
    height: int = 8,
) -> Panel:
    """A table with one row per ``key_labels`` combination and one column per query."""
    # Grafana names the value field "Value" for one query and "Value #<refId>" for several.
    value_names = (
        {"Value": columns[0].title}
        if len(columns) == 1
        else {f"Value #{_ref_id(i)}": c.title for i, c in enumerate(columns)}
    )
    keep = dict.fromkeys(key_labels, True) | dict.fromkeys(value_names, True)
    b = (
        _described(table.Panel(), title, description, COUNT, NEUTRAL)
        .targets(
            [
                Query(c.query.expr, c.query.legend, instant=True, table=True).builder(_ref_id(i))
                for i, c in enumerate(columns)
            ]
        )
        .transformations(
            [
                models.DataTransformerConfig(id_val="merge", options={}),
                models.DataTransformerConfig(
                    id_val="organize",
                    options={
                        "excludeByName": {"Time": True},
                        "includeByName": keep,
                        "indexByName": {name: i for i, name in enumerate([*key_labels, *value_names])},
                        "renameByName": value_names,
                    },
                ),
            ]
        )
    )
    for c in columns:
        b = b.override_by_name(
            c.title,
            [
                models.DynamicConfigValue(id_val="unit", value=c.unit),
                models.DynamicConfigValue(id_val="thresholds", value=c.steps.builder().build()),
                models.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"}),
            ],
        )
    return Panel(b, width, height)


ALERT_LIST_DESCRIPTION = (
    "Pending and firing alerts of the selected namespaces and jobs, from the rules of the selected data source."
)
FIRING_KEYS = ("alertname", "alertstate", "severity", "namespace", "job")


def alert_list_panel(
    title: str,
    description: str,
    *,
    width: int = 10,
    height: int = 8,
    job: bool = True,
    extra_filter: Sequence[str] = (),
) -> Panel:
    """Grafana's alert list: the alerts of the datasource's rules for the selected objects.

    Alert instances are filtered by the ``namespace`` (and ``job``) variables and
    ``extra_filter`` matchers, e.g. ``vigil_policy=~"${policy:regex}"``.
    """
    matchers = ['namespace=~"${namespace:regex}"']
    if job:
        matchers.append('job=~"${job:regex}"')
    label_filter = ", ".join([*matchers, *extra_filter])
    b = _described(builders.Panel().type("alertlist"), title, description, COUNT, NEUTRAL).options(
        {
            "alertInstanceLabelFilter": "{" + label_filter + "}",
            "alertName": "",
            "dashboardAlerts": False,
            "datasource": "${datasource}",
            "groupBy": [],
            "groupMode": "default",
            "maxItems": 20,
            "sortOrder": 1,
            "stateFilter": {
                "error": True,
                "firing": True,
                "noData": False,
                "normal": False,
                "pending": True,
                "recovering": True,
            },
            "viewMode": "list",
        }
    )
    return Panel(b, width, height)


def firing_alerts_panel(
    description: str,
    alerts: Sequence[str] = (),
    *,
    width: int = 14,
    height: int = 8,
    job: bool = True,
    matchers: Sequence[str] = (),
    keys: Sequence[str] = FIRING_KEYS,
) -> Panel:
    """A table of the alerts that are pending or firing now (Prometheus' ALERTS series).

    The alerts are those named in ``alerts`` and matching ``matchers``; one row per ``keys``.
    """
    extra = [*matchers, 'alertstate=~"pending|firing"']
    if alerts:
        extra.insert(0, f'alertname=~"{alerts_regex(alerts)}"')
    expr = f"max by ({', '.join(keys)}) (ALERTS{selector(*extra, job=job)})"
    return table_panel(
        "Pending and firing alerts",
        description,
        keys,
        [Column("Active", Query(expr), COUNT, above(1))],
        width=width,
        height=height,
    )


# Variables -------------------------------------------------------------------------------


def datasource_variable() -> builders.DatasourceVariable:
    """The ``datasource`` variable: any Prometheus data source, the default one first."""
    return (
        builders.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(models.VariableOption(selected=True, text="default", value="default"))
    )


def query_variable(
    name: str, label: str, query: str, *, include_all: bool = True, match_all: bool = True
) -> builders.QueryVariable:
    """A variable listing label values, e.g. ``label_values(up{...}, job)``; multi-select.

    "All" matches every value (``.*``) with ``match_all``, else only the values listed.
    """
    v = (
        builders.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .definition(query)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(include_all)
    )
    if include_all:
        v = v.current(models.VariableOption(text="All", value=ALL))
    if include_all and match_all:
        v = v.all_value(MATCH_ALL)
    return v


def label_variable(name: str, label: str, metric: str, *, label_name: str = "") -> builders.QueryVariable:
    """A variable of the values of ``metric``'s label ``label_name`` (default: ``name``) in the selected jobs."""
    return query_variable(name, label, f"label_values({metric}{selector()}, {label_name or name})")


def standard_variables(metric: str, *, job: bool = True) -> list[Builder[models.VariableModel]]:
    """``datasource``, ``namespace`` and (unless ``job`` is False) ``job``, from ``metric``."""
    out: list[Builder[models.VariableModel]] = [
        datasource_variable(),
        query_variable("namespace", "Namespace", f"label_values({metric}, namespace)"),
    ]
    if job:
        out.append(query_variable("job", "Job", f'label_values({metric}{{namespace=~"$namespace"}}, job)'))
    return out


# Dashboards ------------------------------------------------------------------------------


@dataclass
class Board:
    """A dashboard being assembled: rows and panels laid out left to right, top to bottom."""

    name: str
    title: str
    description: str
    tags: Sequence[str]
    variables: Sequence[Builder[models.VariableModel]]
    alerts: Sequence[str] = ()
    """Alerts drawn as annotations on every graph while they fire."""
    alert_matchers: Sequence[str] = ()
    """More matchers on the ALERTS series of the annotations (all alerts when no names)."""
    alert_job_filter: bool = True
    alert_text: str = "{{severity}}: {{alertname}} is firing for {{namespace}}/{{job}}"
    refresh: str = "30s"
    """How often Grafana reloads the dashboard while it is open."""
    _panels: list[models.Panel | models.RowPanel] = field(default_factory=list, init=False)
    _x: int = field(default=0, init=False)
    _y: int = field(default=0, init=False)
    _line_height: int = field(default=0, init=False)

    def _newline(self) -> None:
        self._y += self._line_height
        self._x = 0
        self._line_height = 0

    def row(self, title: str) -> Board:
        """Start a row; the panels added next belong to it."""
        if self._x:
            self._newline()
        self._panels.append(
            models.RowPanel(
                title=title,
                id_val=len(self._panels) + 1,
                datasource=DATASOURCE,
                grid_pos=models.GridPos(h=1, w=GRID_WIDTH, x=0, y=self._y),
            )
        )
        self._y += 1
        return self

    def add(self, *panels: Panel) -> Board:
        """Place ``panels`` after the last one, wrapping at the grid's width."""
        for p in panels:
            if self._x + p.width > GRID_WIDTH:
                self._newline()
            built = p.builder.build()
            built.id_val = len(self._panels) + 1
            built.datasource = DATASOURCE
            built.grid_pos = models.GridPos(h=p.height, w=p.width, x=self._x, y=self._y)
            self._panels.append(built)
            self._x += p.width
            self._line_height = max(self._line_height, p.height)
        return self

    def alerts_row(
        self,
        description: str,
        *,
        list_description: str = ALERT_LIST_DESCRIPTION,
        list_filter: Sequence[str] = (),
        keys: Sequence[str] = FIRING_KEYS,
    ) -> Board:
        """Add the row "Alerts": Grafana's alert list, and the board's own alerts pending or firing now.

        The table shows the alerts the board annotates (``alerts``, ``alert_matchers``);
        ``description`` says which they are, ``list_filter`` narrows the alert list.
        """
        return self.row("Alerts").add(
            alert_list_panel("Alerts", list_description, job=self.alert_job_filter, extra_filter=list_filter),
            firing_alerts_panel(
                description, self.alerts, job=self.alert_job_filter, matchers=self.alert_matchers, keys=keys
            ),
        )

    def _dashboard(self) -> builders.Dashboard:
        b = (
            builders.Dashboard(self.title)
            .uid(uid(self.name))
            .description(self.description)
            .tags([TAG, *self.tags])
            .readonly()
            .timezone("browser")
            .time("now-1h", "now")
            .refresh(self.refresh)
            .tooltip(models.DashboardCursorSync.CROSSHAIR)
            .variables(list(self.variables))
            .link(
                builders.DashboardLink("Vigil dashboards")
                .type(models.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )
        if self.alerts or self.alert_matchers:
            extra = [*self.alert_matchers, 'alertstate="firing"']
            if self.alerts:
                extra.insert(0, f'alertname=~"{alerts_regex(self.alerts)}"')
            b = b.annotation(
                builders.AnnotationQuery()
                .name("Firing alerts")
                .datasource(DATASOURCE)
                .enable(True)
                .hide(False)
                .icon_color(RED)
                .expr(f"ALERTS{selector(*extra, job=self.alert_job_filter)}")
                .step("60s")
                .title_format("{{alertname}}")
                .text_format(self.alert_text)
                .tag_keys("severity")
            )
        return b

    def build(self) -> dict[str, Any]:
        """The dashboard as plain JSON data."""
        dashboard = self._dashboard().build()
        dashboard.panels = list(self._panels)
        data: dict[str, Any] = json.loads(json.dumps(dashboard, cls=JSONEncoder))
        return data


def to_json(dashboard: dict[str, Any]) -> str:
    """The committed form of a dashboard: sorted keys, two-space indent, final newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
