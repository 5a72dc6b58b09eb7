"""Reading YAML as kubectl sends it: hostile files become problems naming file, document, object,
field and line, in bounded time and memory, and never stop the other documents or files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import budget
from vigil import documents
from vigil.documents import MAX_DEPTH, Reading, read_file, read_text

HEAD = "apiVersion: vigil.dev/v1alpha1\nkind: AlertPolicy\nmetadata: {name: p}\nspec:\n"


def read(text: str) -> Reading:
    return read_text(text, "f.yaml")


def only(reading: Reading) -> Any:
    assert reading.errors == [], [str(e) for e in reading.errors]
    ((_, doc),) = reading.documents
    return doc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2001-12-14", "2001-12-14"),  # dates stay strings, as kubectl sends them
        ("2001-13-45", "2001-13-45"),
        ("12:30:00", "12:30:00"),  # no base 60
        ("1e3", 1000.0),
        ("0x1F", 31),
        ("1_000", 1000),
        ("y", True),
        ("off", False),
        ("~", None),
        ("9" * 5000, "9" * 5000),  # past a float's range go-yaml keeps the text
        ("9" * 25, 1e25),  # past 64 bits: a float, as the API server reads it
        ("-9223372036854775808", -(2**63)),
        ("'yes'", "yes"),
        ("!!str 5", "5"),
        ("!!float 3", 3.0),
    ],
)
def test_values_are_read_as_kubectl_reads_them(value: str, expected: Any) -> None:
    assert only(read(f"{HEAD}  v: {value}\n"))["spec"]["v"] == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!int abc", '!!int "abc" is not a 64-bit integer'),
        ("!!bool maybe", '!!bool "maybe" is not a boolean'),
        ("!!float xyz", '!!float "xyz" is not a number'),
        ("!!timestamp nope", "the tag !!timestamp is not supported"),
        ("!!timestamp 2001-12-14", "the tag !!timestamp is not supported"),
        ("!!binary aGVsbG8=", "the tag !!binary is not supported"),
        ("!custom x", "the tag !custom is not supported"),
        (".inf", '".inf" is not a number JSON (and so Kubernetes) can carry'),
        ("!!int " + "9" * 5000, "is not a 64-bit integer"),
        ('"\\ud800"', "not valid Unicode"),
        ("!!set {a, b}", "the tag !!set is not supported"),
    ],
)
def test_values_json_cannot_carry_name_file_document_object_field_and_line(value: str, message: str) -> None:
    reading = read(f"{HEAD}  for: 5m\n  labels:\n    team: {value}\n")
    assert reading.documents == []
    (error,) = reading.errors
    assert str(error).startswith("f.yaml:1: AlertPolicy/p: spec.labels.team: ")
    assert message in error.message
    assert error.message.endswith("(line 7, column 11)")


def test_a_broken_document_stops_its_file_but_not_the_documents_before_it() -> None:
    text = f"{HEAD}  expr: up\n---\n{HEAD}  expr: [unclosed\n---\n{HEAD}  expr: up\n"
    reading = read(text)
    assert [s.index for s, _ in reading.documents] == [1]
    (error,) = reading.errors
    assert error.source is not None
    assert error.source.index == 2
    assert "not valid YAML" in error.message
    assert "the rest of the file is not read" in error.message


def test_a_bad_value_costs_only_its_document() -> None:
    text = f"{HEAD}  expr: !!int x\n---\n{HEAD}  expr: up\n"
    reading = read(text)
    assert [s.index for s, _ in reading.documents] == [2]
    assert [e.source.index for e in reading.errors if e.source] == [1]


def test_nesting_past_the_limit_is_refused_before_python_recursion_runs_out() -> None:
    deep = "[" * 600 + "]" * 600
    reading = read(f"{HEAD}  v: {deep}\n")
    (error,) = reading.errors
    assert f"nested deeper than {MAX_DEPTH} levels" in error.message
    assert only(read(f"{HEAD}  v: {'[' * 50}{']' * 50}\n"))["spec"]["v"] is not None


def test_an_alias_bomb_is_refused_by_its_expanded_size() -> None:
    lines = ["apiVersion: vigil.dev/v1alpha1", "kind: AlertPolicy", "metadata:", "  name:"]
    lines.append("    a0: &a0 [xxxxxxxxxx, xxxxxxxxxx, xxxxxxxxxx, xxxxxxxxxx, xxxxxxxxxx]")
    lines += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    reading = read("\n".join([*lines, "spec: {expr: up}"]) + "\n")
    (error,) = reading.errors
    assert str(error).startswith("f.yaml:1: AlertPolicy/<no name>: the document expands to more than 3 MiB")


def test_aliases_that_stay_small_are_expanded_like_kubectl_does() -> None:
    doc = only(read(f"{HEAD}  labels: &l {{a: b}}\n  x: *l\n  z:\n    <<: *l\n    c: d\n"))
    assert doc["spec"]["x"] == {"a": "b"}
    assert doc["spec"]["z"] == {"a": "b", "c": "d"}
    assert doc["spec"]["x"] is not doc["spec"]["labels"]


def test_an_alias_cycle_is_refused() -> None:
    (error,) = read(f"{HEAD}  v: &a [x, *a]\n").errors
    assert "an alias refers to a node that contains it" in error.message


def test_aliases_nesting_past_the_limit_are_refused() -> None:
    lines = [f"a0: &a0 {'[' * 60}x{']' * 60}", f"a1: &a1 {'[' * 60}*a0{']' * 60}"]
    (error,) = read("\n".join(lines) + "\n").errors
    assert "nests deeper than" in error.message


def test_duplicate_keys_are_a_warning_naming_both_lines_and_the_last_value_is_used() -> None:
    reading = read(f"{HEAD}  expr: up\n  expr: down\n")
    assert only(reading)["spec"]["expr"] == "down"
    (warning,) = reading.warnings
    assert str(warning) == (
        "f.yaml:1: AlertPolicy/p: spec.expr: duplicate key (line 6, column 3; first at line 5): "
        "the last value is used; remove one"
    )


def test_keys_are_strings_and_complex_keys_are_refused() -> None:
    # go-yaml v2 reads a plain y or n as a boolean, keys too; JSON then spells it out.
    assert only(read("1: a\ntrue: b\nn: c\n")) == {"1": "a", "true": "b", "false": "c"}
    (error,) = read("? [a]\n: b\n").errors
    assert "a mapping key is a list or mapping" in error.message


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n---\n"])
def test_a_file_without_documents_is_a_warning(text: str) -> None:
    reading = read(text)
    assert reading.errors == []
    assert [str(w) for w in reading.warnings] == ["f.yaml: file: holds no YAML document: an empty file"]


def test_bytes_that_are_not_utf8_are_an_error() -> None:
    (error,) = read_text(b"a: \xff\xfe\n", "f.yaml").errors
    assert "not valid YAML" in error.message


def test_a_file_past_the_size_limit_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_FILE_BYTES", 64)
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 100 + "\n")
    (error,) = read_file(big).errors
    assert str(error) == f"{big}: file: larger than 0 MiB: not read; split it into smaller files"


@budget(400)
@given(st.binary(max_size=200))
def test_any_bytes_are_read_or_refused_never_raised(data: bytes) -> None:
    reading = read_text(data, "f.yaml")
    assert isinstance(reading, Reading)


YAML_PIECES = ["a", ":", " ", "\n", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "!!int ", "!!str ", "<<: ", "'", '"']
YAML_PIECES += ["#", "---\n", "?", "|", ">", "\t", "1", "-2", ".5", "y", "~", "\\u0000", "%YAML 1.1\n", "!x "]
YAMLISH = st.lists(st.sampled_from(YAML_PIECES), max_size=40).map("".join)


@budget(400)
@given(YAMLISH)
def test_any_yaml_like_text_is_read_or_refused_never_raised(text: str) -> None:
    reading = read(text)
    for _, doc in reading.documents:
        assert isinstance(doc, dict | list | str | int | float | bool)
