"""Vigil's Go-template check agrees with Prometheus' own parser (promtool check rules)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.harness.tools import require
from tests.unit.models.test_policy import TEMPLATES_ACCEPTED, TEMPLATES_REJECTED
from vigil.models.policy import template_problem

# Go prints a "}}" outside an action as text; Vigil refuses it as a lost "{{".
STRICTER = {text for text, problem in TEMPLATES_REJECTED if "outside an action" in problem}


def promtool_verdict(text: str, tmp_path: Path) -> str | None:
    """What `promtool check rules` says of ``text`` as an alert's summary: None when it passes."""
    rules = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "annotations": {"summary": text}}]}]}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(
        [str(require("promtool")), "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return None if done.returncode == 0 else done.stdout + done.stderr


@pytest.mark.parametrize("text", TEMPLATES_ACCEPTED)
def test_what_vigil_accepts_promtool_accepts(text: str, tmp_path: Path) -> None:
    assert template_problem(text) is None
    assert promtool_verdict(text, tmp_path) is None


@pytest.mark.parametrize("text", [t for t, _ in TEMPLATES_REJECTED if t not in STRICTER])
def test_what_vigil_rejects_promtool_rejects(text: str, tmp_path: Path) -> None:
    assert template_problem(text) is not None
    verdict = promtool_verdict(text, tmp_path)
    assert verdict is not None, f"promtool accepts {text!r}"
    assert "template" in verdict
