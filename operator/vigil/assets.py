"""The one place that finds Vigil's bundled assets: rule bundles, dashboards and deploy files.

From a source checkout they are the top-level folders; an installed package carries copies under
``vigil/_assets/`` (found with importlib.resources).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


@cache
def asset_dir(name: str) -> Path:
    """The folder ``name`` (``rules``, ``dashboards`` or ``deploy``); raises FileNotFoundError if absent."""
    source = _SOURCE_ROOT / name
    if source.is_dir():
        return source
    packaged = Path(str(resources.files("vigil").joinpath("_assets", name)))
    if packaged.is_dir():
        return packaged
    raise FileNotFoundError(f"Vigil's {name}/ folder is missing from this installation")


def rules_dir() -> Path:
    """Folder of the built-in Prometheus rule bundles (plain promtool-readable files)."""
    return asset_dir("rules")


def dashboards_dir() -> Path:
    """Folder of the built-in Grafana dashboards (one JSON file each)."""
    return asset_dir("dashboards")


def deploy_dir() -> Path:
    """Folder of the install manifests: the operator's RBAC, peering, Argo CD health checks."""
    return asset_dir("deploy")
