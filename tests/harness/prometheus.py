"""A real Prometheus server (Debian package) on 127.0.0.1, started and stopped by PID."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.harness.process import Process, start, wait_until
from tests.harness.tools import free_port

READY_DEADLINE_S = 30.0


@dataclass
class Prometheus:
    """A running Prometheus and its URL."""

    process: Process
    url: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; the result vector."""
        qs = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{qs}", timeout=5) as resp:
            body = json.load(resp)
        return list(body["data"]["result"])

    def get(self, path: str) -> Any:
        """GET an API path as JSON."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as resp:
            return json.load(resp)

    def stop(self) -> None:
        self.process.stop()


def start_prometheus(
    binary: Path,
    workdir: Path,
    config: dict[str, Any] | None = None,
    rule_files: list[Path] | None = None,
    extra_args: list[str] | None = None,
) -> Prometheus:
    """Start Prometheus with ``config`` (+ ``rule_files``) and the remote-write receiver on."""
    port = free_port()
    cfg = dict(config or {})
    cfg.setdefault("global", {"scrape_interval": "1s", "evaluation_interval": "1s"})
    if rule_files:
        cfg["rule_files"] = [str(p) for p in rule_files]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    proc = start(
        "prometheus",
        [
            str(binary),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
            "--web.enable-lifecycle",
            *(extra_args or []),
        ],
        workdir,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _ok(f"{url}/-/ready"), READY_DEADLINE_S, "Prometheus /-/ready", proc)
    return Prometheus(proc, url)


def _ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)
