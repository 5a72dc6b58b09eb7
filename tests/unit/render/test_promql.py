"""PromQL written back from the syntax tree: the same tree, plus matchers, and no injection."""

from __future__ import annotations

from datetime import timedelta

import promql_parser
import pytest
import yaml

from tests.helpers import ROOT
from vigil.render.promql import PromQLError, add_matchers, duration, number, parse, parse_back, quote

BUNDLE_EXPRS = [
    str(rule["expr"])
    for path in sorted((ROOT / "rules").glob("*.yaml"))
    if path.name != "bundles.yaml"
    for group in yaml.safe_load(path.read_text())["groups"]
    for rule in group["rules"]
]

SHAPES = [
    'sum by (namespace, job) (rate(x{a="b\\"c", b=~"x.*"}[5m] offset 1m)) / on (job) group_left (foo) y',
    'topk(3, sum without (a) (x)) + count_values("v\\n", y) - quantile(0.9, z)',
    "-x ^ 2 * y % 3 and bool_x unless w or v",
    "x > bool on (a) group_right (b) y",
    "x / ignoring () y",
    "x / on () group_left y",
    "x @ start() offset -5m",
    "x offset 5m @ end()",
    "rate(x[1h:] @ 100)[5m:1m]",
    "(a or b)[5m:]",
    'label_replace(x, "d", "$1", "s", "(.*)")',
    '{__name__="x", a!~"b\\\\.c"}',
    "1e3 + 0x10 + Inf - NaN",
    "x atan2 y",
    "a - (b - c)",
    "a - b - c",
    "a ^ b ^ c",
    "(a ^ b) ^ c",
    "-(-x)",
    "-(a + b)",
    "time()",
    'vector(1) and on () absent(x{job="a"})',
    "sum by () (x)",
    'x{a="\\u00e9\\t"}',
    "x == bool 1",
    "histogram_quantile(0.9, x) > 0.5 unless y",
    "max_over_time((a - b)[1h:])",
]


@pytest.mark.parametrize("expr", BUNDLE_EXPRS + SHAPES)
def test_written_back_it_parses_to_the_same_tree(expr: str) -> None:
    written = add_matchers(expr, lambda _: ())
    assert parse_back(written) == parse_back(expr), written


def _selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        # A MatrixSelector's VectorSelector is visited as a node of its own.
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(parse(expr), visit)
    return found


@pytest.mark.parametrize("expr", BUNDLE_EXPRS + SHAPES)
def test_every_selector_gets_the_matcher(expr: str) -> None:
    written = add_matchers(expr, lambda _: [("namespace", "team-a")])
    selectors = _selectors(written)
    assert len(selectors) == len(_selectors(expr))
    for selector in selectors:
        pairs = [(m.name, m.op, m.value) for m in selector.matchers.matchers]
        assert ("namespace", promql_parser.MatchOp.Equal, "team-a") in pairs, written


def test_matchers_follow_the_metric_name() -> None:
    written = add_matchers(
        "a:rec / b + sum(rate(c[5m]))", lambda metric: [("vigil_stack", "ns/s")] if metric == "a:rec" else []
    )
    assert written == 'a:rec{vigil_stack="ns/s"} / b + sum(rate(c[5m]))'


def test_a_matcher_already_there_is_not_repeated() -> None:
    assert add_matchers('x{namespace="a"}', lambda _: [("namespace", "a")]) == 'x{namespace="a"}'
    # Another value for the same label narrows the selector to nothing, as it must.
    assert add_matchers('x{namespace="b"}', lambda _: [("namespace", "a")]) == 'x{namespace="b", namespace="a"}'


@pytest.mark.parametrize(
    "value",
    ['team"} or vector(1) #', "a\\b", 'x", namespace=~".*', "line\nbreak", "tab\tand\x01control", "ünïcode"],
)
def test_label_values_stay_values(value: str) -> None:
    written = add_matchers("up == 0", lambda _: [("namespace", value)])
    (selector,) = _selectors(written)
    assert [(m.name, m.value) for m in selector.matchers.matchers] == [("namespace", value)]


def test_quote_escapes_as_go_does() -> None:
    assert quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'
    assert quote("\x7f") == '"\\x7f"'


@pytest.mark.parametrize(
    ("value", "text"),
    [(5.0, "5"), (0.05, "0.05"), (8589934592.0, "8589934592"), (1e-9, "1e-09"), (float("inf"), "Inf")],
)
def test_numbers(value: float, text: str) -> None:
    assert number(value) == text


def test_number_nan() -> None:
    assert number(float("nan")) == "NaN"


def test_durations() -> None:
    assert duration(timedelta(minutes=90)) == "1h30m"
    assert duration(timedelta(minutes=-5)) == "-5m"


def test_invalid_promql_is_an_error_with_the_parsers_words() -> None:
    with pytest.raises(PromQLError, match="invalid PromQL"):
        add_matchers("rate(x[5m]", lambda _: ())
