"""Draw each dashboard's layout to a PNG: rows, panels, titles and types, where Grafana puts them.

    python scripts/dashboards_preview.py [--out build/dashboards-preview] [NAME ...]

Reads the committed dashboards/*.json (no Grafana needed) and writes <out>/<name>.png, for
reviewing a layout change in a pull request. Needs matplotlib.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"
OUT = ROOT / "build" / "dashboards-preview"

GRID_WIDTH = 24
CELL_INCHES = 0.62  # one grid column; a grid row is half as high, as in Grafana
COLOURS = {
    "stat": "#d8ecd2",
    "timeseries": "#d6e4f5",
    "bargauge": "#f6e7c8",
    "table": "#eadcf3",
    "alertlist": "#f7d4d4",
}
OTHER = "#e6e6e6"
ROW = "#3b4252"


def _label(panel: dict[str, Any], width: int) -> str:
    chars = max(10, int(width * 4))
    title = textwrap.fill(panel.get("title", ""), chars)
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    kind = panel["type"] + (f" · {unit}" if unit and panel["type"] != "alertlist" else "")
    return f"{title}\n[{kind}]"


def draw(dashboard: dict[str, Any], path: Path) -> None:
    """Write the layout of ``dashboard`` to ``path`` (PNG)."""
    panels = dashboard["panels"]
    height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    fig, ax = plt.subplots(figsize=(GRID_WIDTH * CELL_INCHES, height * CELL_INCHES / 2 + 1.2))
    ax.set_xlim(0, GRID_WIDTH)
    ax.set_ylim(height, 0)
    ax.axis("off")
    ax.set_title(f"{dashboard['title']}   (uid {dashboard['uid']})", loc="left", fontsize=13)
    for p in panels:
        g = p["gridPos"]
        row = p["type"] == "row"
        box = FancyBboxPatch(
            (g["x"] + 0.08, g["y"] + 0.08),
            g["w"] - 0.16,
            g["h"] - 0.16,
            boxstyle="round,pad=0,rounding_size=0.15",
            facecolor=ROW if row else COLOURS.get(p["type"], OTHER),
            edgecolor="#4c566a",
            linewidth=0.8,
        )
        ax.add_patch(box)
        if row:
            ax.text(
                g["x"] + 0.3,
                g["y"] + 0.55,
                p["title"],
                color="white",
                va="center",
                fontsize=11,
                fontweight="bold",
            )
        else:
            ax.text(
                g["x"] + g["w"] / 2,
                g["y"] + g["h"] / 2,
                _label(p, g["w"]),
                ha="center",
                va="center",
                fontsize=10,
            )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Draw the named dashboards (default: all); print each file written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default: {OUT})")
    parser.add_argument("names", nargs="*", help="dashboard names (default: all)")
    args = parser.parse_args(argv)
    mpl.use("Agg")  # files only, no display
    files = [DASHBOARDS / f"{n}.json" for n in args.names] or sorted(DASHBOARDS.glob("*.json"))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"no such dashboard: {', '.join(missing)}", file=sys.stderr)
        return 1
    for f in files:
        target = args.out / f"{f.stem}.png"
        draw(json.loads(f.read_text()), target)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
