"""`otelcol validate` before a rollout: a collector that gives no verdict is no verdict on the config."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from vigil import collector_check
from vigil.render.collector_config import CollectorConfig


def config() -> CollectorConfig:
    # A text of its own each time: verdicts are cached by config.
    return CollectorConfig(f"receivers: {{}}  # {secrets.token_hex(8)}\n", (), (), (), ())


def fake_collector(tmp_path: Path, script: str) -> str:
    path = tmp_path / "otelcol"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return str(path)


def test_the_collector_saying_no_is_a_verdict(tmp_path: Path) -> None:
    binary = fake_collector(tmp_path, "echo 'Error: invalid configuration: service: no pipelines' >&2; exit 1")
    found = collector_check.issue(binary, config())
    assert found is not None
    assert (found.reason, found.message) == (
        "InvalidConfig",
        "otelcol validate: invalid configuration: service: no pipelines",
    )


def test_a_collector_too_slow_to_answer_is_no_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector_check, "TIMEOUT_S", 0.5)
    binary = fake_collector(tmp_path, "sleep 5")
    with pytest.raises(collector_check.NoVerdictError, match="did not finish validating"):
        collector_check.issue(binary, config())


def test_a_collector_that_cannot_start_is_no_verdict(tmp_path: Path) -> None:
    with pytest.raises(collector_check.NoVerdictError, match="could not run the collector"):
        collector_check.issue(str(tmp_path / "missing"), config())
