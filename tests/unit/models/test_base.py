"""base: what every model shares, here the regular expressions every engine must read alike."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_patterns import PATTERNS
from vigil.models.base import matches


@pytest.mark.parametrize("pattern", PATTERNS)
def test_patterns_use_no_class_escape_the_engines_read_differently(pattern: str) -> None:
    # \s, \d, \w and \b are Unicode-aware in Python's re and pydantic's engine, ASCII in RE2.
    assert not re.search(r"(?<!\\)\\[sSdDwWbB]", pattern), pattern


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"^[a-z]+$", "abc", True),
        (r"^[a-z]+$", "abc\n", False),  # RE2's $ ends the text; Python's also matches before a final \n
        (r"^[a-z]+\$", "abc$", True),
        ("[{][{] *[.]?window *[}][}]", "rate(x[{{ window }}])", True),  # search, as CEL matches()
    ],
)
def test_matches_reads_a_pattern_as_cel_does(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected
