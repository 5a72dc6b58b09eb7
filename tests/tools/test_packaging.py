"""An installed Vigil (the wheel, no source checkout) still has its rule bundles, dashboards and RBAC."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # From a copy, so no build/ left over in the checkout can stand in for this build.
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__"))
    # No build isolation: the venv holds the pinned setuptools, so this needs no network.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("vigil_operator-*.whl")
    return built


def test_the_wheel_carries_every_bundle_dashboard_and_deploy_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "vigil/_assets/deploy/rbac.yaml" in names
    assert "vigil/_assets/deploy/argocd/health.lua" in names
    for folder in ("rules", "dashboards", "deploy"):
        for source in (ROOT / folder).glob("*.*"):
            assert f"vigil/_assets/{folder}/{source.name}" in names, f"{folder}/{source.name} is not packaged"
    assert not any("/_assets/rules/tests/" in n for n in names), "promtool unit tests are not product files"
    # The dashboards' generator (and its grafana-foundation-sdk) is for development: only its JSON ships.
    assert not any(n.startswith(("generators/", "vigil/dashboards/")) for n in names)


def test_an_installed_vigil_renders_bundles_dashboards_crds_and_rbac(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    script = (
        "import sys, vigil; from vigil.cli import main; "
        "print(vigil.__file__, file=sys.stderr); raise SystemExit(main(['render', '--with-crds', sys.argv[1]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(EXAMPLES)],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(str(target)), f"imported the checkout, not the wheel: {done.stderr}"
    kinds = [d["kind"] for d in yaml.safe_load_all(done.stdout) if d]
    assert "PrometheusRule" in kinds
    assert kinds[3:5] == ["ClusterRole", "ClusterRoleBinding"], "deploy/rbac.yaml did not come from the package"
    dashboards = [
        d
        for d in yaml.safe_load_all(done.stdout)
        if d and d["kind"] == "ConfigMap" and "grafana_dashboard" in d["metadata"].get("labels", {})
    ]
    assert dashboards, "no dashboard ConfigMap rendered from the installed package"
