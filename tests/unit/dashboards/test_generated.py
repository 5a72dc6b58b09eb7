"""The committed dashboards are what generators.dashboards generates, and follow the conventions."""

from __future__ import annotations

from typing import Any

import pytest
from generators.dashboards import BUILDERS, generate
from generators.dashboards.__main__ import main

from tests.unit.dashboards.inventory import DASHBOARDS, committed, panels
from vigil.models.dashboards import DASHBOARD_NAMES

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
NAMES = sorted(DASHBOARD_NAMES)

# Grafana bookmarks and links keep working only while these never change.
UIDS = {
    "aureus-overview": "vigil-aureus-overview",
    "orchestrator-system-overview": "vigil-orchestrator-system-overview",
    "orchestrator-workflows": "vigil-orchestrator-workflows",
    "aet-system-overview": "vigil-aet-system-overview",
    "aet-agent-performance": "vigil-aet-agent-performance",
    "aet-error-tracking": "vigil-aet-error-tracking",
    "aet-resource-usage": "vigil-aet-resource-usage",
    "blipee-system-overview": "vigil-blipee-system-overview",
    "blipee-agent-performance": "vigil-blipee-agent-performance",
    "blipee-ml-models": "vigil-blipee-ml-models",
    "blipee-business-metrics": "vigil-blipee-business-metrics",
    "blipee-network-intelligence": "vigil-blipee-network-intelligence",
    "collector-health": "vigil-collector-health",
    "vigil-operator": "vigil-vigil-operator",
    "slo-overview": "vigil-slo-overview",
    "health-checks": "vigil-health-checks",
}


def test_committed_files_are_what_the_generator_writes() -> None:
    wanted = generate()
    assert sorted(p.name for p in DASHBOARDS.glob("*.json")) == sorted(wanted)
    stale = [n for n, text in wanted.items() if (DASHBOARDS / n).read_text() != text]
    assert stale == [], f"run `python -m generators.dashboards` to rewrite {stale}"


def test_check_mode_reports_a_stale_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 0
    assert main(["--check", str(tmp_path)]) == 0
    (tmp_path / "aureus-overview.json").write_text("{}\n")
    (tmp_path / "extra.json").write_text("{}\n")
    assert main(["--check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "aureus-overview.json: out of date" in out
    assert "extra.json: not generated" in out
    assert main([str(tmp_path)]) == 0
    assert not (tmp_path / "extra.json").exists()
    assert main(["--check", str(tmp_path)]) == 0


def test_generation_is_deterministic() -> None:
    assert generate() == generate()


def test_every_model_name_has_a_generator_and_a_file() -> None:
    assert sorted(BUILDERS) == NAMES
    assert sorted(committed()) == NAMES


def test_uids_are_fixed_and_unique() -> None:
    assert {n: d["uid"] for n, d in committed().items()} == UIDS
    assert len(set(UIDS.values())) == len(UIDS)
    assert all(len(u) <= 40 for u in UIDS.values())  # Grafana's limit


@pytest.mark.parametrize("name", NAMES)
def test_datasource_is_always_the_variable(name: str) -> None:
    dashboard = committed()[name]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"] == DATASOURCE, (panel["title"], target["refId"])
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"] == DATASOURCE, v["name"]
    for annotation in dashboard.get("annotations", {}).get("list", []):
        assert annotation["datasource"] == DATASOURCE


@pytest.mark.parametrize("name", NAMES)
def test_namespace_and_job_variables(name: str) -> None:
    variables = [v["name"] for v in committed()[name]["templating"]["list"]]
    assert variables[:2] == ["datasource", "namespace"]
    # SLO recording rules are per AlertPolicy and health checks per stack, not per scrape job.
    assert ("job" in variables) == (name not in ("slo-overview", "health-checks"))


@pytest.mark.parametrize("name", NAMES)
def test_every_panel_has_a_description_unit_and_thresholds(name: str) -> None:
    for panel in panels(committed()[name]):
        assert panel.get("description", "").strip(), panel["title"]
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults.get("unit"), panel["title"]
        steps = defaults["thresholds"]["steps"]
        assert steps[0]["value"] is None, panel["title"]
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values), panel["title"]


@pytest.mark.parametrize("name", NAMES)
def test_rows_and_layout(name: str) -> None:
    dashboard = committed()[name]
    assert dashboard["panels"][0]["type"] == "row"
    ids = [p["id"] for p in dashboard["panels"]]
    assert ids == list(range(1, len(ids) + 1))
    cells: set[tuple[int, int]] = set()
    for p in dashboard["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0
        assert g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name: str) -> None:
    dashboard = committed()[name]
    assert dashboard["title"].startswith("Vigil / ")
    assert dashboard["description"]
    assert "vigil" in dashboard["tags"]
    assert dashboard["editable"] is False  # provisioned: edits would be overwritten


def test_alert_views_where_the_seeds_have_them() -> None:
    for name, dashboard in committed().items():
        types = [p["type"] for p in panels(dashboard)]
        assert "alertlist" in types, name
        alert_list = next(p for p in panels(dashboard) if p["type"] == "alertlist")
        assert alert_list["options"]["datasource"] == "${datasource}"
        assert "namespace" in alert_list["options"]["alertInstanceLabelFilter"]


def test_the_aureus_cards_are_the_seeds() -> None:
    first_row = [p["title"] for p in panels(committed()["aureus-overview"])][:4]
    assert first_row == ["Success rate", "CRV failures", "Policy denials", "Rollbacks"]
