"""Golden files: what `vigil render examples/` produces, per stack (``make golden`` rewrites)."""

from __future__ import annotations

import pytest

from tests.helpers import GOLDEN, goldens

CURRENT = goldens()


def test_one_golden_per_example_stack() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(CURRENT)


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_rendering_matches_golden(name: str) -> None:
    committed = (GOLDEN / f"{name}.yaml").read_text()
    assert CURRENT[name] == committed, "rendering changed: run `make golden` and review the diff"


def test_rendering_is_deterministic() -> None:
    assert goldens() == CURRENT
