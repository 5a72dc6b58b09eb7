"""Dashboard queries that compute more than a rate, evaluated by the real promtool on known data.

The queries are read from the committed dashboards, with Grafana's variables set as a user
would (every namespace and job, a 2-hour time range).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.harness.tools import run_tool
from tests.helpers import ROOT
from tests.unit.dashboards.inventory import committed, panels

GRAFANA = (("$namespace", ".*"), ("$job", ".*"), ("$__range_s", "7200"), ("$__range", "2h"))


def _targets(dashboard: str, title: str) -> list[str]:
    panel = next(p for p in panels(committed()[dashboard]) if p["title"] == title)
    out = []
    for target in panel["targets"]:
        expr = target["expr"]
        for variable, value in GRAFANA:
            expr = expr.replace(variable, value)
        out.append(expr)
    return out


def _sample(expr: str, labels: str, value: float) -> dict[str, Any]:
    return {"expr": expr, "eval_time": "120m", "exp_samples": [{"labels": labels, "value": value}]}


def test_aet_recovery_times_measure_episodes_and_outages(tmp_path: Path) -> None:
    # Two hours of one agent: 60 tasks a minute succeed; 20 a minute fail during minutes
    # 20-39 and 70-79. Its scrape target is down during minutes 31-40.
    succeeded, failed, total_failed = [], [], 0
    for minute in range(121):
        total_failed += 20 if 20 <= minute < 40 or 70 <= minute < 80 else 0
        succeeded.append(str(60 * (minute + 1)))
        failed.append(str(total_failed))
    up = ["1"] * 31 + ["0"] * 10 + ["1"] * 80
    labels = 'namespace="aet", job="aet-system"'
    time_failing, recoveries, agent_mttr = _targets("aet-error-tracking", "Recovery from task failures")
    downtime, outages, target_mttr = _targets("aet-error-tracking", "Recovery from outages")
    agent = '{agent="implementer", job="aet-system", namespace="aet"}'
    target = '{job="aet-system", namespace="aet"}'
    checks = [
        # The 5-minute ratio stays above 5 % about 4 minutes after each burst: 24 + 14 minutes.
        _sample(time_failing, agent, 38 * 60),
        _sample(recoveries, agent, 2),
        _sample(agent_mttr, agent, 19 * 60),
        # 10 of the 121 samples of the range were 0 (Prometheus 2 ranges include both ends).
        _sample(f"round({downtime})", target, 595),
        _sample(outages, target, 1),
        _sample(f"round({target_mttr})", target, 595),
    ]
    tests = {
        "rule_files": [str(ROOT / "rules" / "aet.yaml")],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": f'aet_tasks_total{{{labels}, agent="implementer", mode="simple", status="success"}}',
                        "values": " ".join(succeeded),
                    },
                    {
                        "series": f'aet_tasks_total{{{labels}, agent="implementer", mode="simple", status="failure"}}',
                        "values": " ".join(failed),
                    },
                    {"series": f'up{{{labels}, instance="10.0.0.8:5001"}}', "values": " ".join(up)},
                ],
                "promql_expr_test": checks,
            }
        ],
    }
    (tmp_path / "recovery_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = run_tool("promtool", "test", "rules", "recovery_test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
