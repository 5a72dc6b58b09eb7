"""Problems in the API server's words: values quoted and escaped, credentials never repeated."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import sink
from vigil.models.sink import TelemetrySink
from vigil.parse import HIDDEN, hidden_at, parse_document

SECRET = "123456789012"


def gateway(header: Any) -> dict[str, Any]:
    return sink("gw", signals=["traces"], otlp={"endpoint": "gw:4317", "headers": [header]})


def remote_write(auth: dict[str, Any]) -> dict[str, Any]:
    return sink("rw", signals=["metrics"], prometheusRemoteWrite={"url": "http://m:8080/push", "auth": auth})


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        (gateway({"name": "Authorization", "value": int(SECRET)}), "spec.otlp.headers[0].value"),
        (gateway({"name": "Authorization", "value": SECRET * 400}), "spec.otlp.headers[0].value"),
        (remote_write({"bearerToken": {"value": [SECRET]}}), "spec.prometheusRemoteWrite.auth.bearerToken.value"),
        (
            remote_write({"basic": {"username": {"value": "u"}, "password": {"value": {"p": SECRET}}}}),
            "spec.prometheusRemoteWrite.auth.basic.password.value",
        ),
        (
            sink(
                "k",
                signals=["logs"],
                kafka={
                    "brokers": ["k:9092"],
                    "sasl": {"mechanism": "PLAIN", "username": {"value": "u"}, "password": {"value": float(SECRET)}},
                },
            ),
            "spec.kafka.sasl.password.value",
        ),
    ],
    ids=["int-header", "long-header", "bearer-list", "basic-password-map", "kafka-float"],
)
def test_credential_values_are_never_repeated(doc: dict[str, Any], path: str) -> None:
    problems = parse_document(doc)
    assert isinstance(problems, list)
    mine = [p for p in problems if p.path == path]
    assert mine, problems
    assert all(SECRET not in str(p) for p in problems)
    assert all(HIDDEN in p.message or p.message.startswith("Too long") for p in mine)


def test_other_values_are_still_quoted_for_the_reader() -> None:
    problems = parse_document(sink("d", signals=["logs"], debug={"verbosity": "loud\n"}))
    assert isinstance(problems, list)
    assert [(p.path, p.message.split(":")[:2]) for p in problems] == [
        ("spec.debug.verbosity", ["Unsupported value", ' "loud\\n"'])
    ]


@pytest.mark.parametrize(
    ("loc", "hidden"),
    [
        (("spec", "otlp", "headers", 0, "value"), True),
        (("spec", "otlp", "headers", 0, "name"), False),
        (("spec", "otlp", "endpoint"), True),
        (("spec", "otlp", "compression"), False),
        (("spec", "prometheusRemoteWrite", "auth", "basic", "username", "value"), True),
        (("spec", "nothing", "here"), False),
    ],
)
def test_credential_fields_are_found_by_their_mark(loc: tuple[str | int, ...], hidden: bool) -> None:
    assert hidden_at(TelemetrySink, loc) is hidden
