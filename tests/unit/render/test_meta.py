"""Names are DNS-safe, stable and collision-free; env names are C identifiers."""

from __future__ import annotations

import re

import pytest

from vigil import api
from vigil.render import meta

DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LONGEST_OWNER = "a" * 120 + "." + "b" * 132  # 253 characters: the longest name the API server allows


@pytest.mark.parametrize(
    "parts",
    [
        ("a", "collector"),
        ("x" * 80, "collector"),
        ("a.b", "sink", "c"),
        ("1stack", "collector"),
        (LONGEST_OWNER, "rules"),
    ],
)
def test_object_names_are_dns_1035_labels_of_at_most_63(parts: tuple[str, ...]) -> None:
    name = meta.object_name(*parts)
    assert len(name) <= 63
    assert DNS_1035.fullmatch(name), name
    assert meta.object_name(*parts) == name


def test_plain_names_are_kept() -> None:
    assert meta.collector_name("shop") == "shop-collector"
    assert meta.policy_objects_name("task-failure-rate") == "task-failure-rate-policy"


def test_long_names_stay_distinct() -> None:
    assert meta.object_name("x" * 80 + "a", "c") != meta.object_name("x" * 80 + "b", "c")


@pytest.mark.parametrize(
    ("name", "other"),
    [
        (meta.collector_name, ("team.a", "team-a")),
        (meta.collector_config_name, ("team.a", "team-a")),
        (meta.self_monitor_name, ("team.a", "team-a")),
        (meta.policy_objects_name, ("p.x", "p-x")),
        (meta.stack_rules_name, ("a.b.c", "a-b-c")),
    ],
)
def test_owners_that_differ_only_in_dots_get_different_children(name: object, other: tuple[str, str]) -> None:
    assert callable(name)
    assert name(other[0]) != name(other[1])


def test_a_leading_digit_gets_a_letter_and_stays_distinct() -> None:
    name = meta.collector_name("1stack")
    assert name[0].isalpha()
    assert name != meta.collector_name("vigil-1stack")


def test_env_name() -> None:
    assert meta.env_name("my-sink.v2", "HEADER", "X-Api-Key") == "VIGIL_MY_SINK_V2_HEADER_X_API_KEY"


def test_long_owner_names_become_valid_label_values() -> None:
    owner = meta.Owner("MonitoringStack", LONGEST_OWNER, "ns")
    value = owner.labels("collector")[api.INSTANCE]
    assert len(value) <= 63
    assert value != meta.Owner("MonitoringStack", LONGEST_OWNER[:-1] + "c", "ns").labels("collector")[api.INSTANCE]
