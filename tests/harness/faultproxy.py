"""A proxy in front of the real kube-apiserver that fails chosen requests on demand.

The API server cannot be told to answer 429, 500 or 409 to one particular request, to hang
while the operator is killed, to expire one watch, to go silent on another, or to be far away;
this proxy does exactly that and passes everything else (watch streams included) through
unchanged.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from tests.harness.controlplane import ControlPlane
from tests.harness.tools import free_port

EXPIRED = {
    "type": "ERROR",
    "object": {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "too old resource version: 1 (2)",
        "reason": "Expired",
        "code": 410,
    },
}
"""What the API server streams to a watch whose resourceVersion it no longer has, then it ends the stream."""
SESSION = web.AppKey("session", aiohttp.ClientSession)


@dataclass
class Fault:
    """What to do with the next ``count`` matching requests.

    ``status``: answer with it; ``delay``: stall that long first; ``expire``: answer a watch as the
    API server does when its resourceVersion is too old (410 Gone in the stream); ``silent``:
    accept a watch and then send nothing, as a half-open connection does, until it is cut; ``lag``:
    pass a watch through, each of its events that many seconds late (a watch behind the others).
    """

    method: str
    path_contains: str
    status: int = 0
    count: int = 1
    delay: float = 0.0
    expire: bool = False
    silent: bool = False
    lag: float = 0.0
    seen: int = 0

    @property
    def for_watches(self) -> bool:
        return self.expire or self.silent or self.lag > 0

    def describe(self) -> str:
        if self.expire:
            return "410 Gone in the stream"
        if self.silent:
            return "silent"
        if self.lag:
            return f"lag {self.lag}s"
        return str(self.status or f"stall {self.delay}s")


@dataclass
class Watch:
    """A watch stream the proxy holds open."""

    path: str
    silent: bool
    cut: asyncio.Event
    opened: float


@dataclass
class FaultProxy:
    """A running proxy: its kubeconfig, and the faults it still has to inject."""

    kubeconfig: Path
    faults: list[Fault] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)
    watched: list[str] = field(default_factory=list)
    """Every watch request, in order."""
    unreachable: int = 0
    """Requests answered 502 because the API server could not be reached."""
    latency: float = 0.0
    """Seconds every request and every piece of a response spend on the way (each direction)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watches: dict[int, Watch] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def take(self, method: str, path: str, watch: bool) -> Fault | None:
        with self._lock:
            if watch:
                self.watched.append(path)
            for fault in self.faults:
                if (
                    fault.method == method
                    and fault.path_contains in path
                    and fault.seen < fault.count
                    and (watch or not fault.for_watches)
                ):
                    fault.seen += 1
                    self.injected.append(f"{method} {path} -> {fault.describe()}")
                    return fault
        return None

    def watches(self, path_contains: str = "", *, silent: bool | None = None) -> list[str]:
        """Paths of the open watch streams containing ``path_contains`` (only silent ones, or only live ones)."""
        with self._lock:
            return [
                w.path
                for w in self._watches.values()
                if path_contains in w.path and (silent is None or w.silent == silent)
            ]

    def cut_watches(self, path_contains: str = "") -> int:
        """End every open watch stream whose path contains ``path_contains``; how many were cut."""
        with self._lock:
            cut = [w for w in self._watches.values() if path_contains in w.path]
        assert self._loop is not None
        for watch in cut:
            self._loop.call_soon_threadsafe(watch.cut.set)
        return len(cut)

    def _open(self, path: str, silent: bool) -> tuple[int, Watch]:
        watch = Watch(path, silent, asyncio.Event(), time.monotonic())
        with self._lock:
            self._watches[id(watch)] = watch
        return id(watch), watch

    def _close(self, key: int) -> None:
        with self._lock:
            self._watches.pop(key, None)


def _status(code: int, message: str) -> str:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "message": message})


def _is_watch(request: web.Request) -> bool:
    return request.method == "GET" and request.query.get("watch") in ("true", "1")


async def _delayed(chunks: AsyncIterator[bytes], latency: float) -> AsyncIterator[bytes]:
    """``chunks``, each delivered ``latency`` seconds after it arrived (a pipe, not a throttle)."""
    if not latency:
        async for chunk in chunks:
            yield chunk
        return
    queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def read() -> None:
        try:
            async for chunk in chunks:
                await queue.put((loop.time() + latency, chunk))
        finally:
            await queue.put((loop.time() + latency, None))

    reader = asyncio.create_task(read())
    try:
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if chunk is None:
                break
            yield chunk
        await reader
    finally:
        reader.cancel()


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

    async def answer_watch(request: web.Request, fault: Fault) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        if fault.expire:
            await resp.write(json.dumps(EXPIRED).encode() + b"\n")
            await resp.write_eof()
            return resp
        key, watch = proxy._open(request.path_qs, silent=True)
        try:
            # Until cut, or until the client gives up and closes the connection.
            while not watch.cut.is_set() and request.transport is not None and not request.transport.is_closing():
                try:
                    await asyncio.wait_for(watch.cut.wait(), 0.5)
                except TimeoutError:
                    continue
            if request.transport is not None and not request.transport.is_closing():
                await resp.write_eof()
        finally:
            proxy._close(key)
        return resp

    async def handle(request: web.Request) -> web.StreamResponse:
        watch = _is_watch(request)
        fault = proxy.take(request.method, request.path_qs, watch)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and (fault.expire or fault.silent):
            return await answer_watch(request, fault)
        if fault is not None and fault.status:
            return web.Response(
                status=fault.status,
                text=_status(fault.status, "injected"),
                content_type="application/json",
                headers={"Retry-After": "1"} if fault.status == 429 else None,
            )
        try:
            return await forward(request, watch, fault.lag if fault is not None else 0.0)
        except aiohttp.ClientError as exc:
            # The API server went away: a gateway answers 502.
            with proxy._lock:
                proxy.unreachable += 1
            return web.Response(status=502, text=_status(502, f"upstream: {exc!r}"), content_type="application/json")
        except ConnectionResetError:
            return web.Response(status=499)  # the client left; nobody reads this

    async def forward(request: web.Request, watch: bool, lag: float) -> web.StreamResponse:
        latency = proxy.latency
        body = (await request.read()) or None
        if latency:
            await asyncio.sleep(latency)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        # Clients send no bearer token over plain HTTP; the proxy authenticates upstream.
        headers["Authorization"] = f"Bearer {cp.token}"
        session = request.app[SESSION]
        key, tracked = proxy._open(request.path_qs, silent=False) if watch else (0, None)
        resp = web.StreamResponse()
        try:
            async with session.request(
                request.method, upstream + request.path_qs, headers=headers, data=body, ssl=tls
            ) as up:
                resp.set_status(up.status)
                if "Content-Type" in up.headers:
                    resp.headers["Content-Type"] = up.headers["Content-Type"]
                if latency:
                    await asyncio.sleep(latency)
                await resp.prepare(request)
                chunks = _delayed(up.content.iter_any(), latency + lag)
                if tracked is None:
                    async for chunk in chunks:
                        await resp.write(chunk)
                else:
                    await _relay_until_cut(chunks, resp, tracked.cut)
                await resp.write_eof()
                return resp
        except (ConnectionResetError, aiohttp.ClientError):
            if not resp.prepared:
                raise
            return resp  # half-way through a body: the client sees the connection end
        finally:
            if tracked is not None:
                proxy._close(key)

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        proxy._loop = loop
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)

        async def start() -> None:
            # No connection limit: the proxy must never be what slows the operator down.
            app[SESSION] = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None), connector=aiohttp.TCPConnector(limit=0)
            )
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


async def _relay_until_cut(chunks: AsyncIterator[bytes], resp: web.StreamResponse, cut: asyncio.Event) -> None:
    """Copy a watch stream to the client until it ends or ``cut`` is set (then it ends as a server timeout would)."""
    iterator = chunks.__aiter__()
    cutting = asyncio.create_task(cut.wait())
    try:
        while True:
            step = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({step, cutting}, return_when=asyncio.FIRST_COMPLETED)
            if step not in done:
                step.cancel()
                return
            try:
                chunk = step.result()
            except StopAsyncIteration:
                return
            await resp.write(chunk)
    finally:
        cutting.cancel()
