"""Run the real collector (`otelcol-vigil`) on a rendered config: validate, or serve and wait."""

from __future__ import annotations

import re
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.harness.process import Process, start, wait_until
from tests.harness.tools import find, free_port
from vigil.destinations.file import DATA_ROOT

HEALTH_DEADLINE_S = 30.0


def data_dir(workdir: Path) -> Path:
    """Where a collector run in ``workdir`` keeps what file sinks write under the data root."""
    return workdir / "data"


def binary() -> Path:
    """The collector built by `make tools`."""
    path = find("otelcol-vigil")
    if path is None:
        raise FileNotFoundError("otelcol-vigil is not built: run `make tools`")
    return path


def validate(config: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`otelcol-vigil validate` on ``config`` text; the result carries the collector's message."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(config)
    try:
        return subprocess.run(
            [str(binary()), "validate", f"--config={f.name}"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", **(env or {})},
            timeout=60,
            check=False,
        )
    finally:
        Path(f.name).unlink()


def relocate_ports(config: str) -> tuple[str, dict[int, int]]:
    """Move every ``0.0.0.0:PORT`` and ``port: N`` listener to a free 127.0.0.1 port."""
    mapping: dict[int, int] = {}

    def swap(port: int) -> int:
        return mapping.setdefault(port, free_port())

    text = re.sub(r'"?0\.0\.0\.0:(\d+)"?', lambda m: f'"127.0.0.1:{swap(int(m.group(1)))}"', config)
    text = re.sub(
        r'host: "0\.0\.0\.0"\n(\s+)port: (\d+)',
        lambda m: f'host: "127.0.0.1"\n{m.group(1)}port: {swap(int(m.group(2)))}',
        text,
    )
    return text, mapping


@dataclass
class RunningCollector:
    """A collector process and the local ports its listeners moved to."""

    process: Process
    ports: dict[int, int]
    workdir: Path

    def port(self, original: int) -> int:
        """Where the listener rendered on ``original`` listens now."""
        return self.ports[original]

    def stop(self) -> None:
        self.process.stop()


def run(config: str, workdir: Path, env: dict[str, str] | None = None, name: str = "otelcol") -> RunningCollector:
    """Start the collector on ``config`` (ports relocated) and wait for its health check.

    File sinks write under the data root, an emptyDir in the pod: here ``workdir/data``.
    """
    text, ports = relocate_ports(config)
    text = text.replace(f"{DATA_ROOT}/", f"{data_dir(workdir)}/")
    path = workdir / f"{name}.yaml"
    path.write_text(text)
    proc = start(
        name,
        [str(binary()), f"--config={path}"],
        workdir,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )
    health = ports.get(13133)
    if health is not None:
        wait_until(
            lambda: _ok(f"http://127.0.0.1:{health}/"),
            HEALTH_DEADLINE_S,
            "collector health check",
            proc,
        )
    return RunningCollector(proc, ports, workdir)


def _ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)
