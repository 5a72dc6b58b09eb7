"""Shared test helpers: the examples, their rendering, and the invalid cases' expectations."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vigil.cli import read_documents
from vigil.offline import Result, process
from vigil.parse import Source

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
INVALID = EXAMPLES / "invalid"
GOLDEN = ROOT / "tests" / "golden"
VENDORED_CRDS = ROOT / "third_party" / "crds"
HOSTILE = ROOT / "tests" / "data" / "hostile"


def render_examples(namespace: str = "default") -> Result:
    """``vigil render examples/`` as a Result."""
    return process(read_documents([str(EXAMPLES)]), namespace)


def example_documents() -> list[dict[str, Any]]:
    """Every document in examples/ (not invalid/)."""
    return [d for _, d in read_documents([str(EXAMPLES)])]


def example_secret_values() -> list[str]:
    """Every value of every Secret in examples/ (they must never be rendered)."""
    values = []
    for doc in example_documents():
        if doc.get("kind") == "Secret":
            values += [str(v) for v in doc.get("stringData", {}).values()]
    return values


@dataclass(frozen=True)
class InvalidCase:
    """One file of examples/invalid/ and what rejecting it must say."""

    path: Path
    judged_by: str  # crd (API server and models) or operator (only across objects)
    expect_path: str
    expect_message: str

    @property
    def id(self) -> str:
        return self.path.stem

    def documents(self) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.path.read_text()) if d]


def invalid_cases() -> list[InvalidCase]:
    """The expectations written at the top of each examples/invalid/ file."""
    cases = []
    for path in sorted(INVALID.glob("*.yaml")):
        header = dict(re.findall(r"^# (judged-by|expect-path|expect-message): (.*)$", path.read_text(), re.M))
        cases.append(InvalidCase(path, header["judged-by"], header["expect-path"], header["expect-message"]))
    return cases


@dataclass(frozen=True)
class HostileCase:
    """One file of tests/data/hostile/ (see its README): an attack and who refuses it, in which words."""

    path: Path
    header: dict[str, str]

    @property
    def id(self) -> str:
        return self.path.stem

    @property
    def judged_by(self) -> str:
        return self.header["judged-by"]

    @property
    def expect_path(self) -> str:
        return self.header.get("expect-path", "")

    @property
    def expect_message(self) -> str:
        return self.header.get("expect-message", "")

    @property
    def apiserver_message(self) -> str:
        return self.header.get("apiserver-message", self.expect_message)

    @property
    def offline(self) -> bool:
        """Whether `vigil validate` sees the problem (operator cases that need the cluster do not)."""
        return self.header.get("offline", "yes") != "no"

    @property
    def namespace(self) -> str:
        return self.header.get("namespace", "default")

    def documents(self) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.path.read_text()) if d]

    def sources(self) -> list[tuple[Source, Any]]:
        return [(Source(str(self.path), i), d) for i, d in enumerate(self.documents(), start=1)]


def hostile_cases() -> list[HostileCase]:
    """Every case of tests/data/hostile/, with its header."""
    cases = []
    for path in sorted(HOSTILE.glob("*.yaml")):
        header = dict(re.findall(r"^# ([a-z-]+): (.*)$", path.read_text(), re.M))
        cases.append(HostileCase(path, header))
    return cases


def goldens() -> dict[str, str]:
    """Golden text per MonitoringStack of examples/: every object rendered for it."""
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in render_examples().objects:
        owner = obj["metadata"]["labels"]["app.kubernetes.io/instance"]
        out.setdefault(owner, []).append(obj)
    return {name: yaml.safe_dump_all(objs, sort_keys=False, width=1000) for name, objs in sorted(out.items())}


def sink(name: str = "s", labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A TelemetrySink document."""
    return {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "TelemetrySink",
        "metadata": {"name": name, "namespace": "team-a", "labels": labels or {}},
        "spec": spec,
    }


def stack(name: str = "st", **spec: Any) -> dict[str, Any]:
    """A MonitoringStack document."""
    return {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "MonitoringStack",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": spec,
    }


def policy(name: str = "p", **spec: Any) -> dict[str, Any]:
    """An AlertPolicy document."""
    return {
        "apiVersion": "vigil.dev/v1alpha1",
        "kind": "AlertPolicy",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": spec,
    }


def deep(doc: dict[str, Any]) -> dict[str, Any]:
    """A deep copy, so a test can compare against the original afterwards."""
    return copy.deepcopy(doc)
