"""Packaging hook: an installed Vigil carries its rule bundles, dashboards and deploy files.

They live at the top of the repository (promtool, Grafana and kubectl users read them there); the
wheel gets copies under ``vigil/_assets/``, where ``vigil.assets`` finds them.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ASSETS = ("rules", "dashboards", "deploy")


class BuildWithAssets(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).parent
        for name in ASSETS:
            target = Path(self.build_lib, "vigil", "_assets", name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(root / name, target, ignore=shutil.ignore_patterns("tests"))


setup(cmdclass={"build_py": BuildWithAssets})
