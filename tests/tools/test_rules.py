"""Every bundled rule file passes `promtool check rules`, and every bundle's unit tests pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.harness.tools import run_tool
from tests.helpers import ROOT

RULES = ROOT / "rules"
BUNDLES = sorted(p for p in RULES.glob("*.yaml") if p.name != "bundles.yaml")


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the real promtool (Debian package `prometheus`)."""
    return run_tool("promtool", *args, cwd=cwd)


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.stem)
def test_bundle_passes_promtool_check(bundle: Path) -> None:
    result = promtool("check", "rules", str(bundle))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.stem)
def test_bundle_unit_tests_pass(bundle: Path) -> None:
    tests = RULES / "tests" / f"{bundle.stem}_test.yaml"
    assert tests.exists(), f"{bundle.name} has no promtool unit tests"
    result = promtool("test", "rules", tests.name, cwd=RULES / "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("groups:\n- name: x\n  rules:\n  - alert: Broken\n    expr: rate(x[5m] > 1\n")
    result = promtool("check", "rules", str(bad))
    assert result.returncode != 0
