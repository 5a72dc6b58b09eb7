"""A byte scan: no Secret value from the examples appears anywhere in what Vigil renders."""

from __future__ import annotations

import json

from tests.helpers import example_secret_values, render_examples


def test_no_secret_value_in_any_rendered_object() -> None:
    values = example_secret_values()
    assert len(values) >= 4
    rendered = json.dumps(render_examples().objects).encode()
    leaked = [v for v in values if v.encode() in rendered]
    assert leaked == []


def test_scan_would_catch_a_leak() -> None:
    values = example_secret_values()
    rendered = json.dumps([*render_examples().objects, {"data": {"x": values[0]}}]).encode()
    assert values[0].encode() in rendered
