"""Go text/template parsing, as Prometheus parses alert labels and annotations (parse only, no execution).

Prometheus parses every template of a rule when it loads the rule file, with its own functions and
the variables ``$labels``, ``$externalLabels``, ``$externalURL`` and ``$value`` defined; a template
that does not parse breaks the whole rule group. This module follows the lexer and parser of Go's
``text/template/parse`` closely enough to refuse what they refuse, with their words: unknown
functions and variables, unclosed actions, strings and parentheses, ``{{else}}`` and ``{{end}}``
without their ``{{if}}``, a missing ``{{end}}``, empty pipelines. One extra rule: ``}}`` outside an
action (Go prints it as text) is almost always a lost ``{{``, so it is refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GO_FUNCTIONS = frozenset(
    {"and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js", "urlquery", "call"}
    | {"eq", "ne", "lt", "le", "gt", "ge"}
)
PROMETHEUS_FUNCTIONS = frozenset(
    {
        "query", "first", "label", "value", "strvalue", "args", "reReplaceAll", "safeHtml", "match", "title",
        "toUpper", "toLower", "graphLink", "tableLink", "sortByLabel", "stripPort", "stripDomain", "humanize",
        "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "toTime", "toDuration",
        "now", "pathPrefix", "externalURL", "parseDuration",
    }
)  # fmt: skip
"""Prometheus' template functions (template/template.go), across the 2.x and 3.x releases."""
ALERT_VARIABLES = ("$", "$labels", "$externalLabels", "$externalURL", "$value")
"""What Prometheus defines before an alert's template (rules/alerting.go)."""

MAX_DEPTH = 100
"""Nested parentheses at most (Go allows 10000; the parser here recurses once per level)."""
_OPERANDS = ("bool", "char", "number", "dot", "field", "ident", "string", "var", "lparen")
_KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with"}
_SPACE = " \t\r\n"
_NUMBER = re.compile(
    r"[+-]?(0[xX][0-9a-fA-F_]*(\.[0-9a-fA-F_]*)?([pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+|"
    r"([0-9_]+(\.[0-9_]*)?|\.[0-9_]+)([eE][+-]?[0-9_]+)?)i?"
)
_ESCAPE = re.compile(r'\\([abfnrtv\\"\']|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3})')


class TemplateError(ValueError):
    """Why a template does not parse, and where (offset into the text)."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"offset {offset}: {message}")
        self.offset = offset
        self.message = message


@dataclass(frozen=True)
class _Token:
    kind: str  # text, left, right, space, var, field, dot, ident, keyword, bool, number, string, char, paren...
    value: str
    offset: int


def _is_alnum(char: str) -> bool:
    return char == "_" or char.isalnum()


class _Lexer:
    """Go's template lexer: text, delimiters with trim markers, comments, and the tokens of actions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[_Token] = []

    def fail(self, message: str, offset: int | None = None) -> TemplateError:
        return TemplateError(self.pos if offset is None else offset, message)

    def run(self) -> list[_Token]:
        """Every token; a lexing error becomes an ``error`` token where it happened, as Go's lexer
        hands it to the parser only when the parser gets there."""
        try:
            self._scan()
        except TemplateError as exc:
            self.tokens.append(_Token("error", exc.message, exc.offset))
        self.tokens.append(_Token("eof", "", len(self.text)))
        return self.tokens

    def _scan(self) -> None:
        text = self.text
        while self.pos < len(text):
            start = text.find("{{", self.pos)
            end = len(text) if start == -1 else start
            stray = text.find("}}", self.pos, end)
            if stray != -1:
                raise self.fail('unexpected "}}" outside an action: a "{{" is missing', stray)
            if start == -1:
                break
            self.pos = start + 2
            if text.startswith("-", self.pos) and text[self.pos + 1 : self.pos + 2] in tuple(_SPACE):
                self.pos += 2
            if text.startswith("/*", self.pos):
                self._comment(start)
                continue
            self.tokens.append(_Token("left", "{{", start))
            self._action(start)

    def _right_delim(self) -> int:
        """Length of the closing delimiter at pos (``}}`` or `` -}}``), 0 when there is none."""
        rest = self.text[self.pos :]
        if rest.startswith("}}"):
            return 2
        if len(rest) >= 4 and rest[0] in _SPACE and rest[1] == "-" and rest[2:4] == "}}":
            return 4
        return 0

    def _comment(self, start: int) -> None:
        close = self.text.find("*/", self.pos + 2)
        if close == -1:
            raise self.fail("unclosed comment", start)
        self.pos = close + 2
        size = self._right_delim()
        if not size:
            raise self.fail("comment ends before closing delimiter")
        self.pos += size

    def _action(self, start: int) -> None:
        depth = 0
        while True:
            size = self._right_delim()
            if size:
                if depth > 0:
                    raise self.fail("unclosed left paren")
                self.tokens.append(_Token("right", "}}", self.pos))
                self.pos += size
                return
            if self.pos >= len(self.text):
                raise self.fail("unclosed action", start)
            char = self.text[self.pos]
            if char in _SPACE:
                self._space()
            elif char == "=":
                self._emit("assign", 1)
            elif char == ":":
                if not self.text.startswith(":=", self.pos):
                    raise self.fail("expected :=")
                self._emit("declare", 2)
            elif char == "|":
                self._emit("pipe", 1)
            elif char in "\"`'":
                self._quoted(char)
            elif char == "$":
                self._word("var", 1)
            elif char == "." and not self.text[self.pos + 1 : self.pos + 2].isdigit():
                self._word("field", 1)
            elif char in "+-." or char.isdigit():
                self._number()
            elif _is_alnum(char):
                self._word("ident", 0)
            elif char == "(":
                depth += 1
                if depth > MAX_DEPTH:
                    raise self.fail(f"max expression depth exceeded: at most {MAX_DEPTH} nested parentheses")
                self._emit("lparen", 1)
            elif char == ")":
                depth -= 1
                if depth < 0:
                    raise self.fail("unexpected right paren")
                self._emit("rparen", 1)
            elif char.isascii() and char.isprintable():
                self._emit("punct", 1)
            else:
                raise self.fail(f"unrecognized character in action: U+{ord(char):04X}")

    def _emit(self, kind: str, size: int) -> None:
        self.tokens.append(_Token(kind, self.text[self.pos : self.pos + size], self.pos))
        self.pos += size

    def _space(self) -> None:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1
        if self.text.startswith("-}}", self.pos):
            self.pos -= 1  # the last space belongs to the trim marker " -}}"
        if self.pos > start:
            self.tokens.append(_Token("space", self.text[start : self.pos], start))

    def _terminated(self, word: str) -> None:
        rest = self.text[self.pos :]
        if not rest or rest[0] in _SPACE + ".,|:()" or self._right_delim():
            return
        raise self.fail(f"bad character U+{ord(rest[0]):04X} after {word!r}")

    def _word(self, kind: str, skip: int) -> None:
        start = self.pos
        self.pos += skip
        while self.pos < len(self.text) and _is_alnum(self.text[self.pos]):
            self.pos += 1
        word = self.text[start : self.pos]
        self._terminated(word)
        if kind == "field" and word == ".":
            kind = "dot"
        elif kind == "ident" and word in ("true", "false"):
            kind = "bool"
        elif kind == "ident" and word in _KEYWORDS:
            kind = "keyword"
        self.tokens.append(_Token(kind, word, start))

    def _number(self) -> None:
        found = _NUMBER.match(self.text, self.pos)
        if (
            found is None
            or not found.group()
            or found.group() in "+-"
            or _is_alnum(self.text[found.end() : found.end() + 1] or " ")
        ):
            end = self.pos + 1
            while end < len(self.text) and (_is_alnum(self.text[end]) or self.text[end] in "+-."):
                end += 1
            raise self.fail(f'bad number syntax: "{self.text[self.pos : end]}"')
        self.tokens.append(_Token("number", found.group(), self.pos))
        self.pos = found.end()

    def _quoted(self, quote: str) -> None:
        start = self.pos
        self.pos += 1
        what = {"`": "raw quoted string", '"': "quoted string", "'": "char constant"}[quote]
        while True:
            if self.pos >= len(self.text) or (quote != "`" and self.text[self.pos] == "\n"):
                raise self.fail(f"unterminated {what}", start)
            char = self.text[self.pos]
            if char == "\\" and quote != "`":
                escape = _ESCAPE.match(self.text, self.pos)
                if escape is None:
                    raise self.fail("invalid syntax: bad escape in " + what, self.pos)
                self.pos = escape.end()
                continue
            self.pos += 1
            if char == quote:
                break
        body = self.text[start + 1 : self.pos - 1]
        if quote == "'" and len(_ESCAPE.sub("x", body)) != 1:
            raise self.fail(f"malformed character constant: {self.text[start : self.pos]}", start)
        self.tokens.append(_Token("char" if quote == "'" else "string", self.text[start : self.pos], start))


@dataclass
class _Block:
    """An open ``{{if}}``, ``{{with}}``, ``{{range}}``, ``{{define}}`` or ``{{block}}``."""

    keyword: str
    offset: int
    variables: list[str]
    """The variables in scope when it opened: its own go out of scope at its end."""
    has_else: bool = False


@dataclass
class _Parser:
    """Go's template parser over the tokens, keeping only what it needs to refuse what Go refuses."""

    tokens: list[_Token]
    functions: frozenset[str]
    variables: list[str] = field(default_factory=list)
    blocks: list[_Block] = field(default_factory=list)
    pos: int = 0

    def peek(self, skip_space: bool = True) -> _Token:
        at = self.pos
        while skip_space and self.tokens[at].kind == "space":
            at += 1
        if self.tokens[at].kind == "error":
            raise TemplateError(self.tokens[at].offset, self.tokens[at].value)
        return self.tokens[at]

    def next(self, skip_space: bool = True) -> _Token:
        token = self.peek(skip_space)
        self.pos = self.tokens.index(token, self.pos) + 1
        return token

    def fail(self, token: _Token, message: str) -> TemplateError:
        return TemplateError(token.offset, message)

    def unexpected(self, token: _Token, context: str) -> TemplateError:
        shown = {"right": '"}}"', "eof": "EOF", "space": "space"}.get(token.kind, f'"{token.value}"')
        if token.kind == "keyword":
            shown = f"<{token.value}>"
        return self.fail(token, f"unexpected {shown} in {context}")

    def run(self) -> None:
        while (token := self.next()).kind != "eof":
            self.action(token)
        if self.blocks:
            block = self.blocks[-1]
            raise TemplateError(block.offset, f"unexpected EOF: {{{{{block.keyword}}}}} needs an {{{{end}}}}")

    def close(self, context: str) -> None:
        token = self.next()
        if token.kind != "right":
            raise self.unexpected(token, context)

    def action(self, left: _Token) -> None:
        token = self.peek()
        if token.kind != "keyword" or token.value == "nil":
            self.pipeline("command", "right")
            return
        self.next()
        word = token.value
        if word in ("if", "with", "range"):
            self.blocks.append(_Block(word, left.offset, list(self.variables)))
            self.pipeline(word, "right")
        elif word == "else":
            self.else_(token)
        elif word == "end":
            if not self.blocks:
                raise self.fail(token, "unexpected {{end}}")
            self.close("end")
            self.variables = self.blocks.pop().variables
        elif word in ("define", "block"):
            self.define(token, word)
        elif word == "template":
            name = self.next()
            if name.kind != "string":
                raise self.unexpected(name, "template clause")
            if self.peek().kind != "right":
                self.pipeline("template clause", "right")
            else:
                self.close("template clause")
        elif word in ("break", "continue"):
            if not any(b.keyword == "range" for b in self.blocks):
                raise self.fail(token, f"{{{{{word}}}}} outside {{{{range}}}}")
            self.close(word)
        else:
            raise self.unexpected(token, "command")

    def else_(self, token: _Token) -> None:
        if not self.blocks or self.blocks[-1].keyword not in ("if", "with", "range") or self.blocks[-1].has_else:
            raise self.fail(token, "unexpected {{else}}")
        block = self.blocks[-1]
        following = self.peek()
        if following.kind == "keyword" and following.value in ("if", "with") and block.keyword == following.value:
            self.next()
            self.pipeline(following.value, "right")  # {{else if}} / {{else with}} continue the same block
            return
        block.has_else = True
        self.close("else")

    def define(self, token: _Token, word: str) -> None:
        name = self.next()
        if name.kind != "string":
            raise self.unexpected(name, f"{word} clause")
        if word == "define":
            if self.blocks:
                raise self.unexpected(token, "command")
            self.close("define clause")
        elif self.peek().kind != "right":
            self.pipeline("block clause", "right")
        else:
            self.close("block clause")
        # The body is a template of its own: only "$" is defined in it.
        self.blocks.append(_Block(word, token.offset, self.variables))
        self.variables = ["$"]

    def pipeline(self, context: str, end: str) -> None:
        self.variables += self.declarations(context)
        commands = 0
        while True:
            token = self.peek()
            if token.kind == end:
                self.next()
                if commands == 0:
                    raise self.fail(token, f"missing value for {context}")
                return
            starts = token.kind in _OPERANDS or (token.kind == "keyword" and token.value == "nil")
            if not starts:
                raise self.unexpected(self.next(), context)
            kind = self.command()
            # Go parses a character constant as a number.
            if commands and kind in ("bool", "dot", "nil", "number", "string", "char"):
                raise self.fail(token, f"non executable command in pipeline stage {commands + 1}")
            commands += 1

    def declarations(self, context: str) -> list[str]:
        """``$x :=``, ``$x =`` or (range only) ``$i, $e :=`` at the start of a pipeline: the names."""
        start = self.pos
        token = self.peek()
        if token.kind != "var":
            return []
        self.next()
        after = self.peek()
        if after.kind in ("assign", "declare"):
            self.next()
            return [token.value]
        if after.kind == "punct" and after.value == ",":
            self.next()
            if context != "range":
                raise self.fail(after, f"too many declarations in {context}")
            second = self.next()
            if second.kind != "var":
                raise self.fail(second, "range can only initialize variables")
            assign = self.next()
            if assign.kind not in ("assign", "declare"):
                raise self.unexpected(assign, context)
            return [token.value, second.value]
        self.pos = start
        return []

    def command(self) -> str:
        """One command (operands up to ``|``, ``)`` or ``}}``); the kind of its first operand."""
        first = ""
        while True:
            while self.peek(skip_space=False).kind == "space":
                self.next(skip_space=False)
            kind = self.operand()
            if kind is not None:
                first = first or kind
            token = self.next(skip_space=False)
            if token.kind == "space":
                continue
            if token.kind in ("right", "rparen"):
                self.pos -= 1
            elif token.kind != "pipe":
                raise self.unexpected(token, "operand")
            if not first:
                raise self.fail(token, "empty command")
            return first

    def operand(self) -> str | None:
        token = self.peek()
        kind = self.term()
        if kind is None:
            return None
        while self.peek(skip_space=False).kind == "field":
            if kind in ("bool", "string", "number", "nil", "dot", "char"):
                raise self.fail(token, f'unexpected . after term "{token.value}"')
            self.next(skip_space=False)
            kind = "chain"
        return kind

    def term(self) -> str | None:
        token = self.peek()
        if token.kind == "ident":
            self.next()
            if token.value not in self.functions:
                raise self.fail(token, f'function "{token.value}" not defined')
            return "ident"
        if token.kind == "var":
            self.next()
            name = token.value.split(".", 1)[0]
            if name not in self.variables:
                raise self.fail(token, f'undefined variable "{name}"')
            return "var"
        if token.kind == "keyword" and token.value == "nil":
            self.next()
            return "nil"
        if token.kind in ("dot", "field", "bool", "number", "string", "char"):
            self.next()
            return token.kind
        if token.kind == "lparen":
            self.next()
            self.pipeline("parenthesized pipeline", "rparen")
            return "paren"
        return None


def template_problem(
    text: str,
    functions: frozenset[str] = GO_FUNCTIONS | PROMETHEUS_FUNCTIONS,
    variables: tuple[str, ...] = ALERT_VARIABLES,
) -> str | None:
    """Why ``text`` does not parse as a Prometheus alert template (Go's words and an offset), or None."""
    try:
        tokens = _Lexer(text).run()
        _Parser(tokens, functions, list(variables)).run()
    except TemplateError as exc:
        return str(exc)
    return None
