"""A proxy in front of the real kube-apiserver that fails chosen requests on demand.

The API server cannot be told to answer 429, 500 or 409 to one particular request, nor to
hang while the operator is killed; this proxy does exactly that and passes everything else
(watch streams included) through unchanged.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from tests.harness.controlplane import ControlPlane
from tests.harness.tools import free_port


@dataclass
class Fault:
    """Answer ``status`` (or stall ``delay`` seconds) to the next ``count`` matching requests."""

    method: str
    path_contains: str
    status: int = 0
    count: int = 1
    delay: float = 0.0
    seen: int = 0


@dataclass
class FaultProxy:
    """A running proxy: its kubeconfig, and the faults it still has to inject."""

    kubeconfig: Path
    faults: list[Fault] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.path_contains in path and fault.seen < fault.count:
                    fault.seen += 1
                    self.injected.append(f"{method} {path} -> {fault.status or f'stall {fault.delay}s'}")
                    return fault
        return None


def start_fault_proxy(cp: ControlPlane, workdir: Path) -> FaultProxy:
    """Start the proxy on 127.0.0.1 (plain HTTP) in a background thread."""
    port = free_port()
    kubeconfig = workdir / "kubeconfig-proxy"
    config = yaml.safe_load(cp.kubeconfig.read_text())
    config["clusters"][0]["cluster"] = {"server": f"http://127.0.0.1:{port}"}
    kubeconfig.write_text(yaml.safe_dump(config))
    proxy = FaultProxy(kubeconfig)
    upstream = cp.url
    tls = ssl.create_default_context(cafile=str(cp.workdir / "certs" / "apiserver.crt"))
    started = threading.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        fault = proxy.take(request.method, request.path_qs)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status:
            body = (
                f'{{"kind":"Status","apiVersion":"v1","status":"Failure","code":{fault.status},"message":"injected"}}'
            )
            return web.Response(
                status=fault.status,
                text=body,
                content_type="application/json",
                headers={"Retry-After": "1"} if fault.status == 429 else None,
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        # Clients send no bearer token over plain HTTP; the proxy authenticates upstream.
        headers["Authorization"] = f"Bearer {cp.token}"
        session: aiohttp.ClientSession = request.app["session"]
        async with session.request(
            request.method,
            upstream + request.path_qs,
            headers=headers,
            data=(await request.read()) or None,
            ssl=tls,
        ) as up:
            resp = web.StreamResponse(status=up.status)
            for key in ("Content-Type",):
                if key in up.headers:
                    resp.headers[key] = up.headers[key]
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)

        async def start() -> None:
            app["session"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            started.set()

        loop.run_until_complete(start())
        loop.run_forever()

    threading.Thread(target=serve, name="fault-proxy", daemon=True).start()
    if not started.wait(10):
        raise RuntimeError("the fault proxy did not start")
    return proxy
