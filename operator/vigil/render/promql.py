"""PromQL written back from promql-parser's syntax tree, with label matchers added to selectors.

promql-parser's Python tree can be walked but not edited, so :class:`Printer` re-emits an
expression from the tree, node by node, adding equality matchers to every vector and matrix
selector it prints. Parentheses come from the tree (the parser keeps them as ParenExpr nodes);
:func:`parse_back` proves a printed expression parses to the same tree. Label values are always
written as PromQL string literals, so no value can become syntax.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import timedelta

import promql_parser as pp

AddMatchers = Callable[[str | None], Sequence[tuple[str, str]]]
"""Given a selector's metric name (None for ``{__name__=~...}``), the (label, value) pairs it must also match."""

COMPARISONS = ("==", "!=", ">", "<", ">=", "<=")

# Binary operator precedence, lowest first (prometheus/promql/parser/lex.go, Precedence()).
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "unless": 2,
    **dict.fromkeys(COMPARISONS, 3),
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "atan2": 5,
    "^": 6,
}
_RIGHT_ASSOCIATIVE = {"^"}
_UNARY_PRECEDENCE = 5  # unary minus binds like * (`-a * b` is `(-a) * b`) but looser than ^
# promql-parser's enums cannot be dict keys (unhashable): look them up by equality.
_MATCH_OPS = (
    (pp.MatchOp.Equal, "="),
    (pp.MatchOp.NotEqual, "!="),
    (pp.MatchOp.Re, "=~"),
    (pp.MatchOp.NotRe, "!~"),
)
_GROUPS = (
    (pp.VectorMatchCardinality.ManyToOne, "group_left"),
    (pp.VectorMatchCardinality.OneToMany, "group_right"),
)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class PromQLError(ValueError):
    """An expression uses syntax the printer cannot write back faithfully."""


def quote(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal (Go escapes), e.g. ``"a\\"b"``."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def number(value: float) -> str:
    """A float as a PromQL number literal: 5, 0.05, 1e-09, Inf, NaN."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def duration(delta: timedelta) -> str:
    """A timedelta as a PromQL duration, e.g. 5m or 1h30m (negative offsets keep their sign)."""
    if delta < timedelta(0):
        return "-" + pp.display_duration(-delta)
    return pp.display_duration(delta)


def _match_op(op: pp.MatchOp) -> str:
    return next(text for known, text in _MATCH_OPS if op == known)


def _no_matchers(_: str | None) -> Sequence[tuple[str, str]]:
    return ()


def _label_name(name: str) -> str:
    if not _LABEL_NAME.match(name):
        raise PromQLError(f"label name {name!r} cannot be written as PromQL 2 syntax")
    return name


class Printer:
    """Writes an expression tree back as PromQL, adding ``add(metric)`` matchers to each selector."""

    def __init__(self, add: AddMatchers = _no_matchers) -> None:
        self.add = add

    def expr(self, node: pp.Expr) -> str:
        """``node`` and everything below it as PromQL text."""
        if isinstance(node, pp.BinaryExpr):
            return self.binary(node)
        if isinstance(node, pp.ParenExpr):
            return f"({self.expr(node.expr)})"
        if isinstance(node, pp.UnaryExpr):
            inner = self.expr(node.expr)
            if _binding(node.expr) <= _UNARY_PRECEDENCE or inner.startswith("-"):
                inner = f"({inner})"
            return f"-{inner}"
        if isinstance(node, pp.AggregateExpr):
            return self._aggregate(node)
        if isinstance(node, pp.Call):
            return f"{node.func.name}({', '.join(self.expr(a) for a in node.args)})"
        if isinstance(node, pp.MatrixSelector):
            vs = node.vector_selector
            return self._selector(vs) + f"[{duration(node.range)}]" + _modifiers(vs.offset, vs.at)
        if isinstance(node, pp.VectorSelector):
            return self._selector(node) + _modifiers(node.offset, node.at)
        if isinstance(node, pp.SubqueryExpr):
            return self._subquery(node)
        if isinstance(node, pp.NumberLiteral):
            return number(node.val)
        if isinstance(node, pp.StringLiteral):
            return quote(node.val)
        raise PromQLError(f"unsupported PromQL node {type(node).__name__}")

    def binary(self, node: pp.BinaryExpr, rhs: str | None = None) -> str:
        """``node`` as PromQL; with ``rhs``, its right-hand side written as that (a new threshold)."""
        lhs = self.expr(node.lhs)
        if self._wrap_lhs(node):
            lhs = f"({lhs})"
        if rhs is None:
            rhs = self.expr(node.rhs)
            if self._wrap_rhs(node):
                rhs = f"({rhs})"
        return f"{lhs} {node.op!s}{_bin_modifier(node.modifier)} {rhs}"

    def _wrap_lhs(self, node: pp.BinaryExpr) -> bool:
        op, child = str(node.op), _binding(node.lhs)
        return child < _PRECEDENCE[op] or (child == _PRECEDENCE[op] and op in _RIGHT_ASSOCIATIVE)

    def _wrap_rhs(self, node: pp.BinaryExpr) -> bool:
        op, child = str(node.op), _binding(node.rhs)
        return child < _PRECEDENCE[op] or (child == _PRECEDENCE[op] and op not in _RIGHT_ASSOCIATIVE)

    def _aggregate(self, node: pp.AggregateExpr) -> str:
        text = str(node.op)
        if node.modifier is not None:
            word = "by" if node.modifier.type == pp.AggModifierType.By else "without"
            text += f" {word} ({', '.join(_label_name(n) for n in node.modifier.labels)}) "
        args = [self.expr(node.expr)]
        if node.param is not None:
            args.insert(0, self.expr(node.param))
        return f"{text}({', '.join(args)})"

    def _selector(self, node: pp.VectorSelector) -> str:
        if node.matchers.or_matchers:
            raise PromQLError("`or` inside a selector's braces is not PromQL 2 syntax")
        name = node.name
        if name is not None and not _METRIC_NAME.match(name):
            raise PromQLError(f"metric name {name!r} cannot be written as PromQL 2 syntax")
        parts = [f"{_label_name(m.name)}{_match_op(m.op)}{quote(m.value)}" for m in node.matchers.matchers]
        present = {(m.name, m.value) for m in node.matchers.matchers if m.op == pp.MatchOp.Equal}
        parts += [f"{_label_name(k)}={quote(v)}" for k, v in self.add(name) if (k, v) not in present]
        braces = "{" + ", ".join(parts) + "}" if parts or name is None else ""
        return (name or "") + braces

    def _subquery(self, node: pp.SubqueryExpr) -> str:
        inner = self.expr(node.expr)
        if isinstance(node.expr, pp.BinaryExpr | pp.UnaryExpr):
            inner = f"({inner})"
        if node.range is None:
            raise PromQLError("subquery without a range")
        step = duration(node.step) if node.step is not None else ""
        return f"{inner}[{duration(node.range)}:{step}]" + _modifiers(node.offset, node.at)


def _binding(node: pp.Expr) -> int:
    """How tightly ``node`` holds together as an operand: its operator's precedence, else max."""
    if isinstance(node, pp.BinaryExpr):
        return _PRECEDENCE[str(node.op)]
    if isinstance(node, pp.UnaryExpr):
        return _UNARY_PRECEDENCE
    return 100


def _bin_modifier(modifier: pp.BinModifier | None) -> str:
    if modifier is None:
        return ""
    fill = modifier.fill_values
    if fill is not None and (fill.lhs is not None or fill.rhs is not None):
        raise PromQLError("fill values in vector matching are not PromQL 2 syntax")
    text = " bool" if modifier.return_bool else ""
    if modifier.matching is not None:
        word = "on" if modifier.matching.type == pp.LabelModifierType.Include else "ignoring"
        text += f" {word} ({', '.join(_label_name(n) for n in modifier.matching.labels)})"
    group = next((text for card, text in _GROUPS if modifier.card == card), None)
    if group is not None:
        text += f" {group} ({', '.join(_label_name(n) for n in modifier.group_labels or [])})"
    return text


def _modifiers(offset: timedelta | None, at: pp.AtModifier | None) -> str:
    text = f" offset {duration(offset)}" if offset is not None else ""
    if at is not None:
        if at.type == pp.AtModifierType.Start:
            text += " @ start()"
        elif at.type == pp.AtModifierType.End:
            text += " @ end()"
        elif at.at is not None:
            text += f" @ {at.at.timestamp():.3f}"
    return text


def parse(text: str) -> pp.Expr:
    """The syntax tree of ``text``; PromQLError with the parser's message when it is not PromQL."""
    try:
        return pp.parse(text)
    except ValueError as exc:
        raise PromQLError(f"invalid PromQL: {exc}") from exc


def add_matchers(text: str, add: AddMatchers) -> str:
    """``text`` written back with ``add(metric)`` equality matchers on every selector."""
    return Printer(add).expr(parse(text))


def parse_back(text: str) -> str:
    """The canonical form of ``text`` (the parser's own pretty-printer), to compare trees."""
    return parse(text).prettify()
