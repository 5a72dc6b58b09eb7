"""Policies imported from Sloth specs, judged by the real promtool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.tools import run_tool
from tests.tools.test_alerts_promtool import write_rules
from tests.unit.test_sloth import DATA, MAPPED
from vigil.cli import read_documents
from vigil.models.policy import AlertPolicy
from vigil.sloth import Options, import_documents

IMPORTED = {
    i.policy["metadata"]["name"]: AlertPolicy.model_validate(i.policy)
    for i in import_documents(read_documents([str(DATA)]), Options(severities=MAPPED)).policies
}


def test_every_spec_was_imported() -> None:
    assert len(IMPORTED) == 5


@pytest.mark.parametrize("name", sorted(IMPORTED))
def test_imported_rules_pass_promtool_check(tmp_path: Path, name: str) -> None:
    rules = write_rules(tmp_path / "rules.yaml", IMPORTED[name])
    result = run_tool("promtool", "check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr


def _page(alert: str, labels: str = "") -> str:
    return f'ALERTS{{alertname="{alert}", alertstate="firing", severity="critical"{labels}}}'


def test_a_raw_sli_pages_when_every_probe_fails(tmp_path: Path) -> None:
    # Sloth's raw SLI (error_ratio_query): 1h of passing probes, then every probe fails.
    write_rules(tmp_path / "slo.yaml", IMPORTED["payments-probe-success"])
    firing = _page("PaymentsProbeFailing", ', sloth_severity="page", routing_key="payments-oncall"')
    checks: list[dict[str, Any]] = [
        {"expr": firing, "eval_time": "59m", "exp_samples": []},
        {
            "expr": f"count({firing})",
            "eval_time": "70m",
            "exp_samples": [{"labels": "{}", "value": 1}],
        },
    ]
    tests = {
        "rule_files": ["slo.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": 'probe_success{job="blackbox", target="payments"}', "values": "1x60 0x30"}],
                "promql_expr_test": checks,
            }
        ],
    }
    (tmp_path / "slo_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = run_tool("promtool", "test", "rules", "slo_test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
