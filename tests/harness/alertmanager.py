"""A real Alertmanager (Debian package) on 127.0.0.1, and a webhook endpoint it can deliver to."""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.harness.process import Process, StartupError, start, wait_until
from tests.harness.tools import free_port

READY_DEADLINE_S = 30.0


@dataclass
class Alertmanager:
    """A running Alertmanager and its URL."""

    process: Process
    url: str

    @property
    def host_port(self) -> str:
        """``127.0.0.1:<port>``, as Prometheus' alerting config names a target."""
        return self.url.removeprefix("http://")

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert Alertmanager holds (API v2), with its status (active, inhibited...)."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as resp:
            return list(json.load(resp))

    def stop(self) -> None:
        self.process.stop()


def start_alertmanager(binary: Path, workdir: Path, config: dict[str, Any]) -> Alertmanager:
    """Start Alertmanager with ``config`` (an alertmanager.yml as a dict), clustering off."""
    port = free_port()
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = start(
        "alertmanager",
        [
            str(binary),
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ok(f"{url}/-/ready"), READY_DEADLINE_S, "Alertmanager /-/ready", proc)
    except StartupError:
        proc.stop()
        raise
    return Alertmanager(proc, url)


def _ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)


@dataclass
class WebhookSink:
    """An HTTP server in the test process that records every notification POSTed to it, by path."""

    server: ThreadingHTTPServer
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def notifications(self, path: str) -> list[dict[str, Any]]:
        """Notifications received on ``path`` so far, oldest first."""
        with self.lock:
            return list(self.received.get(path, []))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_webhook_sink(host: str = "127.0.0.1") -> WebhookSink:
    """Listen on a free port of ``host`` in a daemon thread."""
    holder: list[WebhookSink] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            sink = holder[0]
            with sink.lock:
                sink.received.setdefault(self.path, []).append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, 0), Handler)
    holder.append(WebhookSink(server))
    threading.Thread(target=server.serve_forever, name="webhook-sink", daemon=True).start()
    return holder[0]
