"""A real HTTP service on 127.0.0.1 with health endpoints that can go down and come back.

``stop()`` closes the listening socket, so a check gets "connection refused" as from a service
whose pods are gone; ``start()`` listens on the same port again. ``ready = False`` makes
``/ready`` answer 503 as a service reporting a failed dependency; ``delay_s`` slows ``/slow``.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.harness.tools import free_port


class HealthEndpoint:
    """``/health``, ``/live`` (200), ``/ready`` (200, or 503 when not ready), ``/slow`` (200 after
    ``delay_s``), ``/me`` (401), anything else 404."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port()
        self.ready = True
        self.delay_s = 0.3
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT."""
        return f"http://{self.host}:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/slow":
                    time.sleep(owner.delay_s)
                code = {
                    "/health": 200,
                    "/live": 200,
                    "/ready": 200 if owner.ready else 503,
                    "/slow": 200,
                    "/me": 401,
                }.get(path, 404)
                body = b'{"status": "healthy"}' if code == 200 else b'{"status": "unhealthy"}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def start(self) -> HealthEndpoint:
        """Listen (again) on the endpoint's port and serve in a thread."""
        server = ThreadingHTTPServer((self.host, self.port), self._handler())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=f"health-endpoint-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket: new connections are refused."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._server = None
