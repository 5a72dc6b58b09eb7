"""Start and stop programs by PID, with logs kept in a folder and every wait bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class StartupError(RuntimeError):
    """A program did not become ready before its deadline; the message ends with its log."""


@dataclass
class Process:
    """A running program, its log file, and how to stop it."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stopped: bool = field(default=False)
    argv: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    pass_fds: tuple[int, ...] = ()
    """How it was started (see :func:`restart`)."""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        """The end of the program's log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the program's process group, then SIGKILL after ``timeout`` seconds."""
        if self.stopped:
            return
        self.stopped = True
        if not self.alive():
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)
        except ProcessLookupError:
            pass


def start(
    name: str,
    argv: Sequence[str],
    workdir: Path,
    env: dict[str, str] | None = None,
    pass_fds: Sequence[int] = (),
    *,
    append: bool = False,
) -> Process:
    """Start ``argv`` in its own process group, output to ``workdir/<name>.log`` (added to with ``append``).

    ``pass_fds`` stay open in the program (and in what it starts), e.g. a lock that must be held
    as long as any of them runs.
    """
    log = workdir / f"{name}.log"
    handle = log.open("ab" if append else "wb")
    popen = subprocess.Popen(
        list(argv),
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=workdir,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )
    handle.close()
    return Process(name, popen, log, argv=tuple(argv), env=dict(env or {}), pass_fds=tuple(pass_fds))


def restart(proc: Process) -> Process:
    """Stop ``proc`` if it still runs and start it again the same way; its log goes on in the same file."""
    proc.stop()
    return start(proc.name, proc.argv, proc.log.parent, proc.env, proc.pass_fds, append=True)


def wait_until(check: Callable[[], bool], deadline_s: float, what: str, proc: Process | None = None) -> None:
    """Poll ``check`` until it returns True; raise StartupError after ``deadline_s`` seconds."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and not proc.alive():
            raise StartupError(f"{proc.name} exited with {proc.popen.returncode} before {what}:\n{proc.tail()}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    tail = f":\n{proc.tail()}" if proc is not None else ""
    raise StartupError(f"timed out after {deadline_s:.0f}s waiting for {what}{tail}")


def eventually(check: Callable[[], T], what: str, deadline_s: float = 45.0, interval_s: float = 0.25) -> T:
    """Poll ``check`` until it returns something truthy and return it; fail the test after the deadline."""
    end = time.monotonic() + deadline_s
    last: T | None = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {deadline_s:.0f}s waiting for {what}; last: {last!r}")
