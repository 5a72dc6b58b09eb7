"""Run `vigil run` as a real process against a control plane, and read its /metrics."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.harness.controlplane import ControlPlane
from tests.harness.process import Process, start, wait_until
from tests.harness.tools import VENV_BIN, free_port

READY_DEADLINE_S = 60.0


@dataclass
class Operator:
    """A running operator process and its metrics port."""

    process: Process
    port: int

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample on /metrics keyed by (name, sorted labels)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def count(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        return sum(v for (n, ls), v in self.metrics().items() if n == name and labels.items() <= dict(ls).items())

    def child_writes(self) -> float:
        """Applies and deletes the API server accepted so far (writes to generated objects).

        Refused ones (403 in a namespace being deleted by another test) changed nothing.
        """
        return sum(
            v
            for (n, labels), v in self.metrics().items()
            if n == "vigil_api_requests_total"
            and dict(labels).get("verb") in ("apply", "delete")
            and dict(labels).get("code", "").startswith("2")
        )

    def ready(self) -> bool:
        """Whether /readyz answers 200 (503 while the operator cannot process objects yet; no answer
        within 2 s is not ready either)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.HTTPError, TimeoutError):
            return False

    def stop(self) -> None:
        self.process.stop()

    def assert_log_clean(self) -> None:
        """Fail if anything went unhandled: every API error is meant to be a quiet retry."""
        log = self.process.log.read_text(errors="replace")
        assert "Traceback" not in log, log[max(0, log.index("Traceback") - 2000) :][:6000]


def start_operator(
    cp: ControlPlane, workdir: Path, name: str = "vigil-operator", *, wait: bool = True, **env: str
) -> Operator:
    """Start `vigil run` with ``env`` settings (VIGIL_*) and, unless ``wait`` is False, wait until it is ready."""
    port = free_port()
    proc = start(
        name,
        [str(VENV_BIN / "vigil"), "run"],
        workdir,
        env={
            "KUBECONFIG": str(cp.kubeconfig),
            "VIGIL_METRICS_PORT": str(port),
            "PYTHONWARNINGS": "ignore",
            **env,
        },
    )
    operator = Operator(proc, port)
    try:
        if wait:
            wait_until(operator.ready, READY_DEADLINE_S, "the operator's /readyz", proc)
        else:
            wait_until(
                lambda: _ok(f"http://127.0.0.1:{port}/healthz"), READY_DEADLINE_S, "the operator's /healthz", proc
            )
    except BaseException:
        proc.stop()  # nobody else holds it: it would outlive the control plane it talks to
        raise
    return operator


@contextlib.contextmanager
def probing(op: Operator, timeout_s: float = 1.0, every_s: float = 0.5) -> Iterator[list[str]]:
    """Probe /healthz and /readyz as kubelet does (its default timeout is 1 s) while the block runs.

    The list holds every probe that got no answer in time (a 503 is an answer).
    """
    missed: list[str] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.wait(every_s):
            for path in ("/healthz", "/readyz"):
                started = time.monotonic()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{op.port}{path}", timeout=timeout_s):
                        pass
                except urllib.error.HTTPError:
                    pass
                except OSError as exc:
                    missed.append(f"{path} after {time.monotonic() - started:.1f}s: {exc}")

    prober = threading.Thread(target=probe, name="prober", daemon=True)
    prober.start()
    try:
        yield missed
    finally:
        stop.set()
        prober.join(timeout=timeout_s * 3)


def running_operator(cp: ControlPlane, workdir: Path, **env: str) -> Iterator[Operator]:
    """For a fixture: the operator while the tests run; afterwards stopped, and its log must be clean."""
    op = start_operator(cp, workdir, **env)
    yield op
    op.stop()
    op.assert_log_clean()


def _ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)
