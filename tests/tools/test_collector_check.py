"""The operator's check of a config with the real collector: each config is run once, then cached."""

from __future__ import annotations

import pytest

from tests.harness.tools import require
from tests.helpers import sink, stack
from vigil import collector_check
from vigil.metrics import COLLECTOR_VALIDATIONS
from vigil.pipeline import build_from_documents
from vigil.render.collector_config import CollectorConfig

pytestmark = pytest.mark.tools


def config(endpoint: str) -> CollectorConfig:
    build = build_from_documents(
        stack("st", sinks={"names": ["gw"]}), [sink("gw", signals=["traces"], otlp={"endpoint": endpoint})]
    )
    assert not isinstance(build, list)
    assert build.config is not None
    return build.config


def runs() -> dict[str, float]:
    return {r: COLLECTOR_VALIDATIONS.labels(r)._value.get() for r in ("valid", "invalid", "cached")}


def test_a_config_is_run_once_and_its_verdict_reused() -> None:
    binary = str(require("otelcol-vigil"))
    first = config("gateway-cache-test:4317")
    before = runs()
    assert collector_check.validate(binary, first) is None
    assert collector_check.validate(binary, first) is None  # a drift tick: no subprocess
    after = runs()
    assert (after["valid"] - before["valid"], after["cached"] - before["cached"]) == (1, 1)
    # A changed config is run again.
    assert collector_check.validate(binary, config("gateway-cache-test-2:4317")) is None
    assert runs()["valid"] - after["valid"] == 1


def test_a_rejected_config_is_cached_with_its_reason() -> None:
    binary = str(require("otelcol-vigil"))
    good = config("gateway-rejected-test:4317")
    bad = CollectorConfig(
        good.text.replace("otlp_grpc/gw:", "otlp_grpc/gw:\n    no_such_setting: 1"),
        good.env,
        good.mounts,
        good.scrapes,
        good.referenced,
    )
    before = runs()
    first = collector_check.validate(binary, bad)
    assert first is not None
    assert "cannot unmarshal the configuration" in first
    assert collector_check.validate(binary, bad) == first
    after = runs()
    assert (after["invalid"] - before["invalid"], after["cached"] - before["cached"]) == (1, 1)
