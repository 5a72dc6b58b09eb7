"""parse: documents are judged as the API server reads them, and nothing a document holds raises."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import JSON, budget, documents
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.offline import process
from vigil.parse import SCHEMAS, Parsed, Source, as_api_server_reads, parse_document


def stack(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "vigil.dev/v1alpha1", "kind": "MonitoringStack", "metadata": {"name": "s"}, "spec": spec}


def test_nulls_are_pruned_from_objects_but_kept_where_fields_pass_through() -> None:
    doc = stack(
        sinks={"names": ["a"], "selector": None},
        collector={"nodeSelector": {"a": None}, "affinity": {"nodeAffinity": None}},
    )
    read = as_api_server_reads(doc, SCHEMAS[MonitoringStack])
    assert read["spec"]["sinks"] == {"names": ["a"]}
    assert read["spec"]["collector"] == {"nodeSelector": {}, "affinity": {}}
    assert isinstance(parse_document(doc), Parsed)
    # A field that keeps unknown fields as given keeps their nulls too.
    passed_through = {"x-kubernetes-preserve-unknown-fields": True}
    assert as_api_server_reads({"x": None, "y": [None]}, passed_through) == {"x": None, "y": [None]}


def test_numbers_are_read_as_the_api_servers_json_decoder_reads_them() -> None:
    read = as_api_server_reads({"a": 3.0, "b": 2**63, "c": 2**63 - 1, "d": 0.5, "e": True, "f": 10**400}, {})
    assert read == {"a": 3, "b": float(2**63), "c": 2**63 - 1, "d": 0.5, "e": True, "f": 10**400}
    assert isinstance(read["a"], int)
    assert isinstance(read["b"], float)


@pytest.mark.parametrize(
    ("collector", "accepted"),
    [
        ({"replicas": 3.0}, True),  # the API server reads a whole number as an integer
        ({"replicas": "3"}, False),  # ...and a string as no integer at all
        ({"replicas": True}, False),
        ({"tolerations": [{"key": "k", "effect": "NoExecute", "tolerationSeconds": 31536000.0}]}, True),
        (
            {"tolerations": [{"key": "k", "effect": "NoExecute", "tolerationSeconds": 2**63}]},
            False,
        ),  # past int64: a float
    ],
)
def test_types_are_strict_as_the_api_servers(collector: dict[str, Any], accepted: bool) -> None:
    outcome = parse_document(stack(sinks={"names": ["a"]}, collector=collector))
    assert isinstance(outcome, Parsed) == accepted, outcome


def test_messages_show_a_hostile_value_cut_short() -> None:
    problems = parse_document(stack(sinks={"names": [["x" * 10_000] * 10_000]}))
    assert isinstance(problems, list)
    assert all(len(p.message) < 400 for p in problems)


@pytest.mark.parametrize("endpoint", ["collector:4317\n", "collector\u00a0:4317", "collector\x0b:4317"])
def test_whitespace_is_judged_as_re2_judges_it(endpoint: str) -> None:
    # RE2 (the API server) reads \s as ASCII space only: the patterns spell out what they refuse.
    sink = {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "TelemetrySink",
        "metadata": {"name": "s"},
        "spec": {"signals": ["traces"], "otlp": {"endpoint": endpoint}},
    }
    outcome = parse_document(sink)
    refused = endpoint.isascii()  # \n and \v are control characters; NBSP is neither for RE2
    assert isinstance(outcome, list) == refused, outcome
    if isinstance(outcome, Parsed):
        assert isinstance(outcome.model, TelemetrySink)


@budget(200)
@given(kind=st.sampled_from(["TelemetrySink", "MonitoringStack", "AlertPolicy"]), data=st.data())
def test_any_generated_document_is_judged_never_raised(kind: str, data: st.DataObject) -> None:
    doc = data.draw(documents(kind, "default"))
    outcome = parse_document(doc, Source("generated", 1))
    assert isinstance(outcome, Parsed | list)
    if isinstance(outcome, list):
        assert all(p.path is not None and p.message for p in outcome)


@budget(150)
@given(spec=st.dictionaries(st.sampled_from(["sinks", "collector", "scrape", "x"]), JSON, max_size=3))
def test_any_json_spec_is_judged_never_raised(spec: dict[str, Any]) -> None:
    assert isinstance(parse_document(stack(**spec)), Parsed | list)


@budget(100)
@given(data=st.data())
def test_the_renderer_never_raises_on_an_accepted_stack(data: st.DataObject) -> None:
    stack_doc = data.draw(documents("MonitoringStack", "default"))
    sinks = [data.draw(documents("TelemetrySink", "default")) for _ in range(2)]
    result = process([(Source("generated", i), d) for i, d in enumerate([stack_doc, *sinks], start=1)], "default")
    assert all(o["metadata"]["namespace"] == "default" for o in result.objects)


@pytest.mark.parametrize("depth", [150, 5000])
def test_an_object_nested_past_the_limit_is_refused_without_recursion(depth: int) -> None:
    # The operator receives JSON from the API server, which nests far deeper than Python recurses.
    affinity: Any = "x"
    for _ in range(depth):
        affinity = {"a": affinity}
    outcome = parse_document(stack(sinks={"names": ["a"]}, collector={"affinity": affinity}))
    assert isinstance(outcome, list)
    (problem,) = outcome
    assert problem.path == "spec.collector.affinity.a.a.a..."
    assert problem.message == "nested deeper than 100 levels: no Kubernetes object is"


def test_problems_per_object_are_capped() -> None:
    problems = parse_document(stack(sinks={"names": ["BAD"] * 60}))
    assert isinstance(problems, list)
    assert len(problems) == 21
    assert problems[-1].message.startswith("and ")
    assert problems[-1].message.endswith("more problems: fix these first")
