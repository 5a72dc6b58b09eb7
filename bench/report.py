"""The benchmark's one table: every figure with its target, printed and written as JSON.

A figure's target is checked where it has one; ``previous`` (the last run's JSON) adds a column
so a change can be compared with the run before it.
"""

from __future__ import annotations

import json
import operator
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

COMPARE: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}


@dataclass
class Figure:
    """One measured figure: its value, unit, and the target it must meet (if any)."""

    key: str
    label: str
    value: float | None
    unit: str
    target: tuple[str, float] | None = None
    """(comparison, bound), e.g. ("<=", 1.5); None: measured and reported only."""
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    """Numbers behind the figure (both sides of a ratio, counts), kept in the JSON."""

    @property
    def ok(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        op, bound = self.target
        return COMPARE[op](self.value, bound)

    def shown(self, value: float | None = None) -> str:
        value = self.value if value is None else value
        if value is None:
            return "n/a"
        if self.unit == "x":
            return f"{value:.2f}x"
        if self.unit == "%":
            return f"{value:+.1f} %"
        digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
        return f"{value:.{digits}f} {self.unit}".rstrip()

    def target_text(self) -> str:
        if self.target is None:
            return "reported"
        op, bound = self.target
        return f"{op} {self.shown(bound)}"


def table(figures: Sequence[Figure], previous: dict[str, float | None] | None = None) -> str:
    """The figures as an aligned text table (a ``last run`` column when ``previous`` is given)."""
    head = ["figure", "value", "target", "ok"] + (["last run"] if previous is not None else [])
    rows = [head]
    for f in figures:
        verdict = {True: "yes", False: "NO", None: "-"}[f.ok]
        row = [f.label, f.shown(), f.target_text(), verdict]
        if previous is not None:
            row.append(f.shown(previous[f.key]) if previous.get(f.key) is not None else "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {f.label}: {f.note}" for f in figures if f.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def load_previous(path: Path) -> dict[str, float | None] | None:
    """Values of the last run's figures by key, or None when there is no readable last run."""
    try:
        data = json.loads(path.read_text())
        return {f["key"]: f["value"] for f in data["figures"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_json(path: Path, figures: Sequence[Figure], context: dict[str, Any]) -> None:
    """Write the run: when, where, with what arguments, and every figure with its verdict."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "load": _load()},
        "context": context,
        "figures": [
            {
                **{k: v for k, v in asdict(f).items() if k != "target"},
                "target": f.target_text(),
                "ok": f.ok,
            }
            for f in figures
        ],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
