"""Names are DNS-safe and stable; env names are C identifiers."""

from __future__ import annotations

import re

import pytest

from vigil.render import meta


@pytest.mark.parametrize("parts", [("a", "collector"), ("x" * 80, "collector"), ("a.b", "sink", "c")])
def test_object_names_are_dns_labels_of_at_most_63(parts: tuple[str, ...]) -> None:
    name = meta.object_name(*parts)
    assert len(name) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
    assert meta.object_name(*parts) == name


def test_long_names_stay_distinct() -> None:
    assert meta.object_name("x" * 80 + "a", "c") != meta.object_name("x" * 80 + "b", "c")


def test_env_name() -> None:
    assert meta.env_name("my-sink.v2", "HEADER", "X-Api-Key") == "VIGIL_MY_SINK_V2_HEADER_X_API_KEY"


def test_long_owner_names_become_valid_label_values() -> None:
    owner = meta.Owner("MonitoringStack", "s" * 100, "ns")
    assert len(owner.labels("collector")[meta.INSTANCE]) <= 63
