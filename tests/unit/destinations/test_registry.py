"""The registry of destinations: each entry's example parses and renders, with only the component
types it declares; the CRD and the examples/ folder follow the registry."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helpers import example_documents, sink, stack
from vigil.crd import build_crds
from vigil.destinations import DESTINATIONS
from vigil.destinations.base import Destination
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render import components
from vigil.render.collector_config import build_collector_config

IDS = [d.field for d in DESTINATIONS]


@pytest.mark.parametrize("destination", DESTINATIONS, ids=IDS)
def test_example_parses_and_renders_with_declared_components(destination: Destination[Any]) -> None:
    model = TelemetrySink.model_validate(sink("x", **destination.example_spec()))
    assert model.spec.destination_type == destination.field
    config = yaml.safe_load(
        build_collector_config(MonitoringStack.model_validate(stack("s", sinks={"names": ["x"]})), [model]).text
    )
    (exporter_id,) = config["exporters"]
    assert exporter_id.split("/")[0] in destination.components
    extensions = {e.split("/")[0] for e in config["service"]["extensions"]} - set(components.EXTENSIONS.values())
    assert extensions <= set(destination.extensions)


def test_every_destination_is_a_field_of_the_crd() -> None:
    sink_crd = next(c for c in build_crds() if c["spec"]["names"]["kind"] == "TelemetrySink")
    spec = sink_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert {d.field for d in DESTINATIONS} <= set(spec)
    for d in DESTINATIONS:
        assert spec[d.field]["description"] == d.description


def test_every_destination_has_an_example_in_examples() -> None:
    used = {
        d.field
        for doc in example_documents()
        if doc["kind"] == "TelemetrySink"
        for d in DESTINATIONS
        if d.field in doc["spec"]
    }
    assert used == {d.field for d in DESTINATIONS}


def test_components_are_the_union_of_the_registry() -> None:
    assert components.ALL_TYPES["exporters"] == {c for d in DESTINATIONS for c in d.components}
