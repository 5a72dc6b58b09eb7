"""Markers by folder: tests/unit is the unit tier, tests/tools the tools tier, and so on."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("tests.harness.fixtures",)

TIERS = ("unit", "tools", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
