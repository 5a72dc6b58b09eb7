""".github/workflows pass actionlint (with shellcheck on every run: script), and actionlint can say no.

Actions are pinned to exact versions (vX.Y.Z). actionlint knows the inputs of popular actions by
major version only, so the workflows are also linted with each pin shortened to its major
(vX.Y.Z -> vX) to have every `with:` checked against the action's real inputs.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.tools import require
from tests.helpers import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@v\d+\.\d+\.\d+$")
NOT_CHECKED = "This action is not found in popular actions data set"


def actionlint(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real actionlint on the workflows of ``project``, with the real shellcheck."""
    return subprocess.run(
        [
            str(require("actionlint")),
            f"-shellcheck={require('shellcheck')}",
            "-pyflakes=",
            "-no-color",
            "-format",
            "{{json .}}",
            *args,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def problems(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert done.returncode in (0, 1), done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return found


def project_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """A folder actionlint sees as a repository holding ``files`` as its workflows."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    for name, text in files.items():
        (workflows / name).write_text(text)
    return tmp_path


def uses(path: Path) -> list[str]:
    doc = yaml.safe_load(path.read_text())
    return [step["uses"] for job in doc["jobs"].values() for step in job.get("steps", []) if "uses" in step]


def test_the_three_workflows_exist() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "e2e-kind.yml", "release.yml"]


def test_workflows_pass_actionlint_and_shellcheck() -> None:
    done = actionlint(ROOT, *map(str, WORKFLOWS))
    assert problems(done) == []
    assert done.returncode == 0


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_an_exact_version(workflow: Path) -> None:
    refs = uses(workflow)
    assert refs, f"{workflow.name} uses no action"
    assert [r for r in refs if not PINNED.match(r)] == []


def test_every_action_input_is_checked_against_the_action(tmp_path: Path) -> None:
    majors = {p.name: re.sub(r"(uses: [^@\s]+@v\d+)\.\d+\.\d+", r"\1", p.read_text()) for p in WORKFLOWS}
    project = project_with(tmp_path, majors)
    done = actionlint(project, "-debug")
    assert problems(done) == []
    unchecked = [ln for ln in done.stderr.splitlines() if NOT_CHECKED in ln]
    assert unchecked == [], "actionlint knows no inputs of these actions; pin versions it knows"


BROKEN = """\
name: broken
on: push
jobs:
  test:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v6
        with:
          fetch-deep: 1
      - run: echo "${{ matrix.python }}"; ls $UNQUOTED/*
      - uses: actions/checkout@v1
"""


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    done = actionlint(project_with(tmp_path, {"broken.yml": BROKEN}))
    assert done.returncode == 1
    found = {(p["kind"], p["line"]) for p in problems(done)}
    assert ("action", 9) in found  # an input actions/checkout does not have
    assert ("expression", 10) in found  # a matrix this job does not define
    assert ("shellcheck", 10) in found  # an unquoted variable
    assert ("action", 11) in found  # a runner too old for GitHub Actions


def test_release_publishes_both_images_from_their_dockerfiles() -> None:
    release = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    matrix = release["jobs"]["images"]["strategy"]["matrix"]["include"]
    assert {m["image"]: m["dockerfile"] for m in matrix} == {
        "vigil": "images/operator/Dockerfile",
        "otelcol-vigil": "images/collector/Dockerfile",
    }
    # The collector tag comes from the manifest the tests build the collector from.
    version_step = next(s["run"] for s in release["jobs"]["version"]["steps"] if s.get("id") == "version")
    assert "tools/otelcol/manifest.yaml" in version_step
    assert "operator/vigil/__init__.py" in version_step


def test_the_pinned_go_is_one_and_new_enough_for_every_tool() -> None:
    (go,) = {yaml.safe_load(p.read_text())["env"]["GO_VERSION"] for p in WORKFLOWS}
    needed = [
        m.group(1) for f in (ROOT / "tools").glob("*/go.mod") if (m := re.search(r"^go (\S+)$", f.read_text(), re.M))
    ]
    assert needed

    def version(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.split("."))

    assert [n for n in needed if version(n) > version(go)] == []


def test_one_helm_everywhere() -> None:
    pins = {p.name: yaml.safe_load(p.read_text())["env"].get("HELM_VERSION") for p in WORKFLOWS}
    # e2e-kind installs no Helm of its own: make e2e runs the tests with the one make tools builds.
    assert pins["e2e-kind.yml"] is None
    assert "helm.sh/helm" not in (ROOT / ".github" / "workflows" / "e2e-kind.yml").read_text()
    assert re.fullmatch(r"v3\.\d+\.\d+", pins["release.yml"])
    helm_tool = ROOT / "tools" / "helm" / "go.mod"
    if helm_tool.exists():  # the Helm the tests build (make tools)
        assert re.search(
            rf"^\s*(require\s+)?helm\.sh/helm/v3 {re.escape(pins['release.yml'])}(\s|$)", helm_tool.read_text(), re.M
        )
