"""Shared building blocks: object metadata as the API server checks it, printable messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.helpers import stack
from vigil.models.base import printable, quantity_value, quoted
from vigil.parse import parse_document

NAMES = {"names": ["console"]}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("namespace", "team-a\ny: 1", 'Invalid value: "team-a\\ny: 1": a lowercase RFC 1123 label'),
        ("namespace", 'x"} or vector(1) #', 'Invalid value: "x\\"} or vector(1) #": a lowercase RFC 1123 label'),
        ("namespace", "a" * 64, "at most 63 characters"),
        ("namespace", "team.a", "a lowercase RFC 1123 label"),
        ("name", "a" * 254, "at most 253 characters"),
        ("name", "a..b", "a lowercase RFC 1123 subdomain"),
        ("name", "A", "a lowercase RFC 1123 subdomain"),
        ("name", "a\u202eb", 'Invalid value: "a\\u202eb"'),
    ],
)
def test_metadata_is_checked_as_the_api_server_does(field: str, value: str, message: str) -> None:
    doc = stack(sinks=NAMES)
    doc["metadata"][field] = value
    problems = parse_document(doc)
    assert isinstance(problems, list)
    assert [(p.path, message in p.message) for p in problems] == [(f"metadata.{field}", True)], problems


def test_the_longest_names_are_accepted() -> None:
    doc = stack("a" * 120 + "." + "b" * 132, sinks=NAMES)
    doc["metadata"]["namespace"] = "n" * 63
    assert not isinstance(parse_document(doc), list)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain 'text' \\d", "plain 'text' \\d"),
        ("two\nlines\r\tx", "two\\nlines\\r\\tx"),
        ("\x1b[31mred\x07", "\\x1b[31mred\\x07"),
        ("\x00\x7f\x85", "\\x00\\x7f\\x85"),
        ("abc\u202edcba\u2066\u200b\ufeff", "abc\\u202edcba\\u2066\\u200b\\ufeff"),
        ("ünïcödé ✓", "ünïcödé ✓"),
    ],
)
def test_printable_escapes_control_and_invisible_characters(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_quoted_values_cannot_close_their_quotes() -> None:
    assert quoted('a"b\\c\n') == '"a\\"b\\\\c\\n"'


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1Gi", 2**30),
        ("1024Mi", 2**30),
        ("500m", Decimal("0.5")),
        ("1e3", 1000),
        ("1.5k", 1500),
        ("+2", 2),
        (".5", Decimal("0.5")),
        ("1Kim", None),
        ("1.2.3", None),
        ("lots", None),
    ],
)
def test_quantities_are_read_as_kubernetes_reads_them(text: str, value: object) -> None:
    found = quantity_value(text)
    assert found == (None if value is None else Decimal(str(value)))


@pytest.mark.parametrize("text", ["1e999999999", "1e-999999999", "9" * 60 + "e99"])
def test_a_huge_exponent_is_no_quantity_and_no_crash(text: str) -> None:
    assert quantity_value(text) is None
    doc = stack(sinks=NAMES, collector={"resources": {"requests": {"memory": text}, "limits": {"memory": "1e99999"}}})
    parse_document(doc)  # decimal.Overflow escaped model validation before
