"""Where the operator's time goes: py-spy samples of `vigil run`, summed by what the code was doing.

`py-spy record --format raw` writes one line per distinct stack (``frame;frame;... count``); only
samples of threads that were running (not idle) are recorded. Each sample is put in the first
category whose rule matches its stack, most specific first, so the shares add up to 100 %.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")

# (category, a function or file substring any frame of the stack must contain), first match wins.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("otelcol validate (subprocess)", ("vigil/collector_check.py",)),
    ("Vigil: list children", ("Kube.list",)),
    ("Vigil: get (referenced Secrets, children)", ("Kube.get", "Kube.resource_versions")),
    ("Vigil: server-side apply of children", ("Kube.apply",)),
    ("Vigil: delete children", ("Kube.delete",)),
    ("Vigil: status of sinks, wake stacks", ("Kube._merge_patch",)),
    ("Vigil: other API requests", ("Kube.request",)),
    ("Vigil: compare live and desired", ("vigil/k8s.py",)),
    ("Vigil: parse (pydantic)", ("vigil/parse.py", "vigil/models/")),
    ("Vigil: build and render", ("vigil/render/", "vigil/pipeline.py", "vigil/destinations/")),
    ("Vigil: status and handlers", ("vigil/handlers/", "vigil/status.py", "vigil/metrics.py")),
    ("kopf: patches (status, annotations)", ("patch_and_check", "patch_obj")),
    ("kopf: watch streams", ("kopf/_cogs/clients/watching.py",)),
    ("kopf: indexes", ("kopf/_core/engines/indexing.py",)),
    ("kopf: timers", ("kopf/_core/engines/daemons.py",)),
    ("kopf: Events (posting)", ("kopf/_core/engines/posting.py",)),
    ("kopf: logging", ("logging/",)),
    ("kopf: event processing", ("kopf/",)),
    ("thread pool hand-off", ("concurrent/futures/",)),
    ("asyncio loop", ("asyncio/", "selectors.py")),
)


def record(pid: int, out: Path, seconds: float, rate: int = 25) -> subprocess.Popen[bytes] | None:
    """Start sampling ``pid`` for ``seconds`` into ``out``; None when py-spy is not installed."""
    spy = shutil.which("py-spy") or str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--duration",
            str(int(seconds)),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def categorise(frames: Sequence[str]) -> str:
    """The category of one sampled stack."""
    if frames and "selectors.py" in frames[-1]:
        return "asyncio loop: waiting in epoll"
    for name, needles in CATEGORIES:
        if any(n in frame for frame in frames for n in needles):
            return name
    return "other"


def breakdown(raw: Path) -> list[tuple[str, float]]:
    """(category, share of samples in %), largest first."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        counts[categorise(stack.split(";"))] += int(n)
    total = sum(counts.values()) or 1
    return [(name, 100 * n / total) for name, n in counts.most_common()]


def text(shares: Sequence[tuple[str, float]]) -> str:
    """The breakdown as lines of ``share  category``."""
    return "\n".join(f"{share:5.1f} %  {name}" for name, share in shares)
