"""`vigil run` settings: flags, their VIGIL_* variables, and the peering priority."""

from __future__ import annotations

import argparse

import pytest

from vigil.operator import peering_priority
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


def test_replicas_without_a_priority_do_not_tie() -> None:
    # kopf pauses every operator of a tied priority: identical replicas must draw different ones.
    draws = {peering_priority(Settings(peering="vigil")) for _ in range(50)}
    assert len(draws) > 1
    assert all(d > 0 for d in draws)


def test_cluster_rule_namespaces_from_flag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse().cluster_rule_namespaces == frozenset()
    assert parse("--cluster-rule-namespaces", "monitoring, vigil-system").cluster_rule_namespaces == {
        "monitoring",
        "vigil-system",
    }
    monkeypatch.setenv("VIGIL_CLUSTER_RULE_NAMESPACES", "monitoring")
    assert parse().cluster_rule_namespaces == {"monitoring"}
