"""What Argo CD and Flux say about an object: the health script and kstatus, run by the real code."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.harness.tools import ROOT, require

HEALTH_LUA = ROOT / "deploy" / "argocd" / "health.lua"


def _run(cmd: list[str], objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    done = subprocess.run(
        cmd,
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} exited {done.returncode}: {done.stderr.strip()}")
    results: list[dict[str, str]] = json.loads(done.stdout)
    return results


def argocd_health(objects: list[dict[str, Any]], script: Path = HEALTH_LUA) -> list[dict[str, str]]:
    """Argo CD's verdict ({status, message}) on each object, by ``script`` in Argo CD's Lua runtime."""
    return _run([str(require("argocd-health")), str(script)], objects)


def kstatus(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """kstatus' verdict ({status, message}) on each object, as Flux's health checks compute it."""
    return _run([str(require("kstatus"))], objects)
