"""Golden files: what `vigil render examples/` produces, per stack (``make golden`` rewrites)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.helpers import EXAMPLES, GOLDEN, goldens, render_examples

CURRENT = goldens()


def test_one_golden_per_example_stack() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(CURRENT)


@pytest.mark.parametrize("name", sorted(CURRENT))
def test_rendering_matches_golden(name: str) -> None:
    committed = (GOLDEN / f"{name}.yaml").read_text()
    assert CURRENT[name] == committed, "rendering changed: run `make golden` and review the diff"


def test_rendering_is_the_same_in_other_processes() -> None:
    # Two interpreters with different hash seeds (set and dict orders differ between them).
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "vigil.cli", "render", str(EXAMPLES)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join(sys.path)},
        ).stdout
        for seed in ("1", "4242")
    ]
    assert outputs[0] == outputs[1]
    assert list(yaml.safe_load_all(outputs[0])) == render_examples().objects
