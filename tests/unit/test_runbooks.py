"""Every alert of every rule bundle links to its runbook, and the runbook index lists it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helpers import ROOT

RULES = ROOT / "rules"
RUNBOOKS = ROOT / "docs" / "runbooks"
URL = "https://github.com/vigil-dev/vigil/blob/main/docs/runbooks/{}.md"


def _alerts() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(RULES.glob("*.yaml")):
        if path.name == "bundles.yaml":
            continue
        doc = yaml.safe_load(path.read_text())
        found += [(path.stem, r) for g in doc["groups"] for r in g["rules"] if "alert" in r]
    return found


ALERTS = _alerts()


@pytest.mark.parametrize(("bundle", "rule"), ALERTS, ids=lambda x: x if isinstance(x, str) else x["alert"])
def test_alert_has_its_runbook(bundle: str, rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert rule["annotations"]["runbook_url"] == URL.format(name)
    runbook = (RUNBOOKS / f"{name}.md").read_text()
    assert runbook.startswith(f"# {name}\n")
    assert f"- **Bundle:** `{bundle}`" in runbook
    assert f"- **Severity:** `{rule['labels']['severity']}`" in runbook
    assert rule["expr"].strip().splitlines()[-1].strip() in runbook
    for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation"):
        assert section in runbook, f"{name}.md has no {section}"


def test_index_lists_every_alert_once() -> None:
    index = (RUNBOOKS / "README.md").read_text()
    for _, rule in ALERTS:
        assert index.count(f"[{rule['alert']}]({rule['alert']}.md)") == 1, rule["alert"]


def test_no_runbook_without_an_alert() -> None:
    names = {r["alert"] for _, r in ALERTS}
    assert {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"} == names
