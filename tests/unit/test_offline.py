"""`vigil render/validate` offline: two owners never generate one object; namespaces are names."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import EXAMPLES, policy, sink, stack
from vigil import api
from vigil.cli import main
from vigil.offline import Result, process
from vigil.parse import Source


def run(*docs: dict[str, Any], namespace: str = "default") -> Result:
    return process([(Source("in.yaml", i), d) for i, d in enumerate(docs, start=1)], namespace)


CONSOLE = sink("console", signals=["logs"], debug={})


def test_stacks_whose_names_differ_only_in_dots_render_apart() -> None:
    result = run(CONSOLE, stack("team.a", sinks={"names": ["console"]}), stack("team-a", sinks={"names": ["console"]}))
    assert result.problems == []
    services = sorted(o["metadata"]["name"] for o in result.objects if o["kind"] == "Service")
    assert len(services) == 2
    assert "team-a-collector" in services


def test_policies_whose_names_differ_only_in_dots_render_apart() -> None:
    result = run(policy("p.x", expr="up == 0"), policy("p-x", expr="up == 0"))
    assert result.problems == []
    rules = [o["metadata"]["name"] for o in result.objects if o["kind"] == "PrometheusRule"]
    assert len(set(rules)) == 2


def test_two_owners_of_one_name_are_reported_and_the_second_renders_nothing() -> None:
    # Stack "a" scrapes "x-collector-self": ServiceMonitor a-scrape-x-collector-self, the self
    # monitor of stack "a-scrape-x".
    first = stack("a", sinks={"names": ["console"]}, scrape=[{"name": "x-collector-self"}])
    second = stack("a-scrape-x", sinks={"names": ["console"]})
    result = run(CONSOLE, first, second)
    assert [(p.object, p.path) for p in result.problems] == [("MonitoringStack/a-scrape-x", "metadata.name")]
    assert 'generates ServiceMonitor "a-scrape-x-collector-self", which MonitoringStack/a generates too' in (
        result.problems[0].message
    )
    owners = {o["metadata"]["labels"][api.INSTANCE] for o in result.objects}
    assert owners == {"a"}
    assert [r[3] for r in result.rows] == [0, 0, 1]


@pytest.mark.parametrize("namespace", ['x"} or vector(1) #', "shop\nkind: Secret", "", "Shop", "a" * 64])
def test_the_namespace_flag_is_a_namespace_name(namespace: str) -> None:
    result = run(CONSOLE, stack("s", sinks={"names": ["console"]}) | {"metadata": {"name": "s"}}, namespace=namespace)
    assert result.objects == []
    assert [(p.object, p.path) for p in result.problems] == [("vigil", "--namespace")]
    assert "a lowercase RFC 1123 label" in result.problems[0].message
    assert "\n" not in result.problems[0].message


def test_the_cli_refuses_a_hostile_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-n", 'x"} or vector(1) #', str(EXAMPLES)]) == 1
    err = capsys.readouterr().err
    assert 'vigil: --namespace: Invalid value: "x\\"} or vector(1) #"' in err
