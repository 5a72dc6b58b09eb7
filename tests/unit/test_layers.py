"""The layers of DESIGN.md hold: what each part of the package may import.

models (and the destinations registry) and renderers are pure: no kopf, no kubernetes client, no
I/O module; renderers depend on nothing above them (parse, status, the pipeline, handlers).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "vigil"
IO = ("kopf", "kubernetes", "urllib3", "vigil.k8s", "vigil.handlers", "vigil.operator", "vigil.collector_check")
ABOVE_RENDER = ("vigil.parse", "vigil.status", "vigil.pipeline", "vigil.offline", "vigil.cli", "vigil.diff")

RULES = {
    "models": IO + ABOVE_RENDER + ("vigil.render",),
    "destinations": IO + ABOVE_RENDER + ("vigil.render",),
    "render": IO + ABOVE_RENDER,
    "status.py": IO + ABOVE_RENDER[2:] + ("vigil.render",),
    "pipeline.py": IO,
    "api.py": ("vigil.", "kopf", "kubernetes"),
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def within(name: str, module: str) -> bool:
    """Whether ``name`` is ``module`` or inside it (a trailing dot: anything under it)."""
    if module.endswith("."):
        return name.startswith(module)
    return name == module or name.startswith(module + ".")


@pytest.mark.parametrize("part", sorted(RULES))
def test_a_layer_imports_nothing_it_must_not(part: str) -> None:
    target = PACKAGE / part
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert files
    bad = [
        f"{f.relative_to(PACKAGE)} imports {name}"
        for f in files
        for name in sorted(imports(f))
        if any(within(name, forbidden) for forbidden in RULES[part])
    ]
    assert bad == []
