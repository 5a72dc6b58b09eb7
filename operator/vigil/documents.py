"""Read Kubernetes documents from YAML files the way kubectl sends them, in bounded time and memory.

Values are what kubectl (go-yaml v2, then JSON) makes of them, not what PyYAML's defaults make:
dates stay strings, ``y``/``n`` are booleans, ``1e3`` is a number, and a plain number too large
for 64 bits is a float, or a string past a float's range. What JSON cannot carry (``.inf``,
``.nan``, ``!!binary``, ``!!timestamp``, cyclic aliases) is an error, as is a document nested
deeper than MAX_DEPTH or larger than the API server takes once its aliases are expanded.

Every problem names the file, the document (1-based), the object when its kind and name can be
read, the field and the line. A broken document stops its file (YAML cannot resynchronise after a
syntax error); the documents before it and every other file are still read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from vigil.parse import MAX_DEPTH, Problem, Source, path_of, shown

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Files larger than this are not read (a folder of objects is far smaller)."""
MAX_OBJECT_BYTES = 3 * 1024 * 1024
"""The API server's request limit: no larger document can be an object, aliases expanded."""

_YAML = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, MAP, SEQ, MERGE = (
    f"{_YAML}{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge")
)

_TRUE = ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")
_FALSE = ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")
_INT = re.compile(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)\Z")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOAT = re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)\Z")
_INT64 = 2**63
_UINT64 = 2**64
# \Z, not $: Python's $ also matches before a final newline, which a quoted scalar may hold.


class _Resolver(BaseResolver):
    """go-yaml v2's implicit types: YAML 1.1 booleans with y/n, no timestamps, no base 60."""


_Resolver.add_implicit_resolver(BOOL, re.compile(f"^(?:{'|'.join(_TRUE + _FALSE)})\\Z"), list("yYnNtTfFoO"))
_Resolver.add_implicit_resolver(INT, _INT, list("-+0123456789"))
_Resolver.add_implicit_resolver(FLOAT, _FLOAT, list("-+0123456789."))
_Resolver.add_implicit_resolver(FLOAT, _SPECIAL_FLOAT, list("-+."))
_Resolver.add_implicit_resolver(NULL, _NULL, ["~", "n", "N", ""])
_Resolver.add_implicit_resolver(MERGE, re.compile(r"^(?:<<)\Z"), ["<"])


class _Loader(Reader, Scanner, Parser, Composer, _Resolver):
    """PyYAML's reader, scanner, parser and composer, with a depth limit; no constructor."""

    def __init__(self, stream: bytes) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Resolver.__init__(self)
        self.depth = 0
        self.document = 0
        """1-based number of the document being read."""

    def compose_scalar_node(self, anchor: Any) -> ScalarNode:
        # Whether the tag was written (!!int abc is an error; a plain abc is a string).
        event = self.peek_event()  # type: ignore[no-untyped-call]
        node: ScalarNode = super().compose_scalar_node(anchor)
        node.explicit = event.tag not in (None, "!")  # type: ignore[attr-defined]
        return node

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        # The composer recurses once per level: stop before Python's stack does.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels: no Kubernetes object is", mark
                )
            node: Node = super().compose_node(parent, index)  # type: ignore[assignment]
            return node
        finally:
            self.depth -= 1


@dataclass
class Reading:
    """What the files held: documents to validate, errors (unreadable parts) and warnings."""

    documents: list[tuple[Source, Any]] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def extend(self, other: Reading) -> None:
        """Add what ``other`` read after what this one read."""
        self.documents += other.documents
        self.errors += other.errors
        self.warnings += other.warnings


class _BadValueError(Exception):
    """A value kubectl could not send, at ``path`` (a field path) and ``node``."""

    def __init__(self, path: tuple[str | int, ...], node: Node, message: str) -> None:
        super().__init__(message)
        self.path, self.node, self.message = path, node, message


def _where(node: Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _label(root: Node) -> str:
    """``Kind/name`` read from the document's own scalars, without building it; or ``document``."""
    if not isinstance(root, MappingNode):
        return "document"
    top = {k.value: v for k, v in root.value if isinstance(k, ScalarNode)}
    kind = top.get("kind")
    meta = top.get("metadata")
    name = None
    if isinstance(meta, MappingNode):
        name = next((v for k, v in meta.value if isinstance(k, ScalarNode) and k.value == "name"), None)
    kind_text = kind.value if isinstance(kind, ScalarNode) and kind.value else "document"
    name_text = name.value if isinstance(name, ScalarNode) and name.value else "<no name>"
    return f"{shown(kind_text, 63)}/{shown(name_text)}" if kind_text != "document" else "document"


def _check_size(root: Node) -> None:
    """Refuse alias cycles, and documents too deep or too large once every alias is expanded.

    Each node is measured once (aliases share nodes), so a "billion laughs" costs its file size.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (size in bytes, depth), once known
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if isinstance(node, ScalarNode):
            sizes[key] = (len(node.value) + 1, 1)
            continue
        children = [n for pair in node.value for n in pair] if isinstance(node, MappingNode) else list(node.value)
        if not children_done:
            if key in open_nodes:
                raise _BadValueError((), node, "an alias refers to a node that contains it: JSON cannot hold a cycle")
            open_nodes.add(key)
            stack.append((node, True))
            for child in children:
                if id(child) in open_nodes:
                    raise _BadValueError(
                        (), child, "an alias refers to a node that contains it: JSON cannot hold a cycle"
                    )
                stack.append((child, False))
            continue
        open_nodes.discard(key)
        size = 1 + sum(sizes[id(c)][0] for c in children)
        depth = 1 + max((sizes[id(c)][1] for c in children), default=0)
        if size > MAX_OBJECT_BYTES:
            raise _BadValueError(
                (),
                root,
                f"the document expands to more than {MAX_OBJECT_BYTES // 2**20} MiB (through its aliases): "
                "the API server takes no larger object",
            )
        if depth > MAX_DEPTH:
            raise _BadValueError((), node, f"the document nests deeper than {MAX_DEPTH} levels through its aliases")
        sizes[key] = (size, depth)


def _text(path: tuple[str | int, ...], node: ScalarNode) -> str:
    value: str = node.value
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _BadValueError(
                path, node, "not valid Unicode (an escaped lone surrogate): JSON cannot carry it"
            ) from exc
    return value


def _number(text: str) -> int | float | str:
    """A plain number as go-yaml v2 reads it: int64 or uint64, else a finite float, else the text."""
    plain = text.replace("_", "")
    if _INT.match(text):
        sign = -1 if plain.startswith("-") else 1
        digits = plain.lstrip("+-")
        base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2].lower(), 8 if len(digits) > 1 and digits[0] == "0" else 10)
        body = digits[2:] if base in (2, 16) or digits[:2].lower() == "0o" else digits
        if len(body) <= 64 and (base != 10 or len(body) <= 20):  # within uint64 at most; no long str->int
            try:
                value = sign * int(body, base)
            except ValueError:
                value = None
            if value is not None and -_INT64 <= value < _UINT64:
                return value
    try:
        number = float(plain)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _scalar(path: tuple[str | int, ...], node: ScalarNode) -> Any:
    tag, text = node.tag, _text(path, node)
    explicit = getattr(node, "explicit", False)
    if tag in (STR, "!"):
        return text
    if tag == NULL:
        return None
    if tag == BOOL:
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise _BadValueError(path, node, f'!!bool "{shown(text, 40)}" is not a boolean: write true or false')
    if tag in (INT, FLOAT) and _SPECIAL_FLOAT.match(text):
        raise _BadValueError(path, node, f'"{text}" is not a number JSON (and so Kubernetes) can carry')
    if tag == INT:
        value = _number(text) if _INT.match(text) else text
        if not explicit or isinstance(value, int):
            return value
        raise _BadValueError(
            path, node, f'!!int "{shown(text, 40)}" is not a 64-bit integer: remove the tag or fix the number'
        )
    if tag == FLOAT:
        number = _number(text) if _FLOAT.match(text) else text
        if not explicit or not isinstance(number, str):
            return float(number) if explicit else number
        raise _BadValueError(
            path, node, f'!!float "{shown(text, 40)}" is not a number: remove the tag or fix the number'
        )
    raise _BadValueError(
        path,
        node,
        f"the tag {_short_tag(tag)} is not supported: Kubernetes objects hold strings, numbers, booleans, "
        "null, lists and mappings; remove the tag (and quote a date)",
    )


def _short_tag(tag: str) -> str:
    return f"!!{tag.removeprefix(_YAML)}" if tag.startswith(_YAML) else shown(tag, 60)


def _key(path: tuple[str | int, ...], node: Node) -> str:
    if not isinstance(node, ScalarNode):
        raise _BadValueError(path, node, "a mapping key is a list or mapping: JSON keys are strings")
    value = _scalar(path, node)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


class _Builder:
    """Turns one composed document into JSON values, collecting duplicate-key warnings."""

    def __init__(self) -> None:
        self.duplicates: list[tuple[tuple[str | int, ...], Node, str]] = []

    def build(self, path: tuple[str | int, ...], node: Node) -> Any:
        if isinstance(node, ScalarNode):
            return _scalar(path, node)
        if isinstance(node, SequenceNode):
            if node.tag not in (SEQ, "!"):
                raise _BadValueError(
                    path, node, f"the tag {_short_tag(node.tag)} is not supported on a list: remove it"
                )
            return [self.build((*path, i), child) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode) and node.tag in (MAP, "!"):
            return self._mapping(path, node)
        raise _BadValueError(path, node, f"the tag {_short_tag(node.tag)} is not supported on a mapping: remove it")

    def _mapping(self, path: tuple[str | int, ...], node: MappingNode) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                for source in self._merge_sources(path, value_node):
                    merged.update({k: v for k, v in self._mapping(path, source).items() if k not in merged})
                continue
            key = _key(path, key_node)
            if key in seen:
                self.duplicates.append(((*path, key), key_node, f"line {seen[key].start_mark.line + 1}"))
            seen[key] = key_node
            out[key] = self.build((*path, key), value_node)
        return {**{k: v for k, v in merged.items() if k not in out}, **out}

    @staticmethod
    def _merge_sources(path: tuple[str | int, ...], node: Node) -> list[MappingNode]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        if not all(isinstance(s, MappingNode) for s in sources):
            raise _BadValueError(path, node, "<< merges mappings only: give a mapping or a list of mappings")
        return list(sources)


def _documents(loader: _Loader) -> Iterator[tuple[int, Node]]:
    index = 0
    while True:
        index += 1
        loader.document = index
        if not loader.check_node():
            return
        node: Node = loader.get_node()  # type: ignore[assignment]
        yield index, node


def read_text(data: bytes | str, file: str) -> Reading:
    """Every document of one file's content, or why a part of it cannot be read."""
    reading = Reading()
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        loader = _Loader(raw)  # reads and decodes the whole stream: refuses what is not UTF-8/16
    except yaml.YAMLError as exc:
        return Reading(errors=[Problem(Source(file), "file", "", _yaml_message(exc))])
    try:
        for index, node in _documents(loader):
            source = Source(file, index)
            builder = _Builder()
            try:
                _check_size(node)
                value = builder.build((), node)
            except _BadValueError as bad:
                where = path_of(bad.path)
                reading.errors.append(Problem(source, _label(node), where, f"{bad.message} ({_where(bad.node)})"))
                continue
            for path, key_node, first in builder.duplicates:
                reading.warnings.append(
                    Problem(
                        source,
                        _label(node),
                        path_of(path),
                        f"duplicate key ({_where(key_node)}; first at {first}): the last value is used; remove one",
                    )
                )
            if value is not None:
                reading.documents.append((source, value))
    except yaml.YAMLError as exc:
        index = loader.document
        reading.errors.append(Problem(Source(file, index), "document", "", _yaml_message(exc)))
    finally:
        loader.dispose()
    if not reading.documents and not reading.errors:
        reading.warnings.append(Problem(Source(file), "file", "", "holds no YAML document: an empty file"))
    return reading


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        return (
            f"not valid YAML: {what} (line {mark.line + 1}, column {mark.column + 1}); the rest of the file is not read"
        )
    return f"not valid YAML: {exc}; the rest of the file is not read"


def read_file(path: Path) -> Reading:
    """The documents of ``path``, reading at most MAX_FILE_BYTES."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return Reading(errors=[Problem(Source(str(path)), "file", "", f"cannot read: {exc.strerror or exc}")])
    if len(data) > MAX_FILE_BYTES:
        message = f"larger than {MAX_FILE_BYTES // 2**20} MiB: not read; split it into smaller files"
        return Reading(errors=[Problem(Source(str(path)), "file", "", message)])
    return read_text(data, str(path))
