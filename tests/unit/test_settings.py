"""`vigil run` settings: flags, their VIGIL_* variables, and the peering priority."""

from __future__ import annotations

import argparse

import pytest

from vigil.operator import PRIORITY_RANGE, peering_priority
from vigil.settings import Settings, add_arguments, from_arguments


def parse(*argv: str) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_arguments(parser.parse_args(list(argv)))


def test_priority_from_flag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse("--peering", "vigil", "--priority", "7").priority == 7
    monkeypatch.setenv("VIGIL_PRIORITY", "9")
    assert parse().priority == 9


def test_an_explicit_priority_is_kept() -> None:
    assert peering_priority(Settings(peering="vigil", priority=5)) == 5


def test_standalone_needs_no_priority() -> None:
    assert peering_priority(Settings()) == 0


def test_replicas_without_a_priority_draw_one_from_the_whole_range() -> None:
    # kopf pauses every operator of a tied priority: replicas draw from a million, never 0 (standalone).
    asked: list[int] = []

    def draw(n: int, result: int) -> int:
        asked.append(n)
        return result

    peering = Settings(peering="vigil")
    assert peering_priority(peering, lambda n: draw(n, 0)) == 1
    assert peering_priority(peering, lambda n: draw(n, PRIORITY_RANGE - 1)) == PRIORITY_RANGE
    assert asked == [PRIORITY_RANGE, PRIORITY_RANGE]
    assert peering_priority(Settings(), lambda n: draw(n, 5)) == 0
    assert asked == [PRIORITY_RANGE, PRIORITY_RANGE], "standalone draws nothing"


def test_cluster_rule_namespaces_from_flag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse().cluster_rule_namespaces == frozenset()
    assert parse("--cluster-rule-namespaces", "monitoring, vigil-system").cluster_rule_namespaces == {
        "monitoring",
        "vigil-system",
    }
    monkeypatch.setenv("VIGIL_CLUSTER_RULE_NAMESPACES", "monitoring")
    assert parse().cluster_rule_namespaces == {"monitoring"}


def test_data_flow_interval_from_flag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse().data_flow_interval == 30.0
    assert parse("--data-flow-interval", "0").data_flow_interval == 0
    monkeypatch.setenv("VIGIL_DATA_FLOW_INTERVAL", "5")
    assert parse().data_flow_interval == 5.0


@pytest.mark.parametrize("value", ["0.5", "-1", "soon"])
def test_data_flow_interval_is_off_or_at_least_a_second(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--data-flow-interval", value)
    assert "--data-flow-interval" in capsys.readouterr().err
