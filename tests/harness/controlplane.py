"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager.

Built by `make tools`; used by the integration tier and by `make demo`. The controller-manager
runs only the garbage collector and namespace controllers (there is no kubelet: pods never run).
The local node (tests/harness/node.py) starts the same control plane with its own flags.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import ssl
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.harness.process import Process, restart, start, wait_until
from tests.harness.tools import ROOT, find, free_port

CRD_DIRS = (
    ROOT / "crds",
    ROOT / "third_party" / "crds" / "prometheus-operator",
    ROOT / "third_party" / "crds" / "grafana-operator",
)
READY_DEADLINE_S = 90.0


def _write_key_pair(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = folder / "sa.key"
    public = folder / "sa.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@dataclass
class ControlPlane:
    """A running local control plane and how to reach it."""

    workdir: Path
    url: str
    token: str
    kubeconfig: Path
    processes: list[Process] = field(default_factory=list)
    operator_token: str = ""
    """Token of the user ``vigil-operator``, which has no permissions until RBAC grants them."""

    def kubeconfig_for_operator(self) -> Path:
        """A kubeconfig that authenticates as the unprivileged user ``vigil-operator``."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"] = [{"name": "admin", "user": {"token": self.operator_token}}]
        path = self.workdir / "kubeconfig-operator"
        path.write_text(yaml.safe_dump(config))
        return path

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this control plane."""
        kubectl = find("kubectl")
        if kubectl is None:
            raise FileNotFoundError("kubectl: run `make setup`")
        result = subprocess.run(
            [str(kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def request(self, path: str) -> Any:
        """GET ``path`` from the API server as JSON."""
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
            body = resp.read().decode()
        return json.loads(body) if body.startswith("{") else body

    def install_crds(self, *folders: Path) -> None:
        """Apply CRDs (server-side) and wait until they are Established."""
        names: list[str] = []
        for folder in folders or CRD_DIRS:
            out = self.kubectl("apply", "--server-side", "--force-conflicts", "-o", "name", "-f", str(folder))
            names += out.stdout.split()
        # Right after creation a CRD may have no conditions yet, which kubectl wait rejects.
        wait_until(
            lambda: (
                self.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names, check=False).returncode
                == 0
            ),
            60,
            "CRDs to be Established",
        )

    def logs(self) -> dict[str, str]:
        """The end of each component's log."""
        return {p.name: p.tail(50) for p in self.processes}

    def component(self, name: str) -> Process:
        """The running process of component ``name`` (``etcd``, ``kube-apiserver``, ...)."""
        return next(p for p in self.processes if p.name == name)

    @contextlib.contextmanager
    def outage(self, name: str) -> Iterator[None]:
        """Component ``name`` is stopped inside the block, then started again on the same ports and
        data, and ready (the API server's /readyz says ok) when the block ends."""
        proc = self.component(name)
        proc.stop()
        try:
            yield
        finally:
            again = restart(proc)
            self.processes[self.processes.index(proc)] = again
            if name == "etcd":
                url = next(a for a in again.argv if a.startswith("--listen-client-urls=")).partition("=")[2]
                wait_until(lambda: _http_ok(f"{url}/health"), 30, "etcd /health", again)
            wait_until(lambda: self.request("/readyz") == "ok", READY_DEADLINE_S, "kube-apiserver /readyz", again)

    def stop(self, keep: bool = False) -> None:
        """Stop every component by PID (reverse start order); remove the folder unless ``keep``."""
        for proc in reversed(self.processes):
            proc.stop()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


class ExistingCluster(ControlPlane):
    """A cluster this process did not start (KUBECONFIG): nothing to stop."""

    def stop(self, keep: bool = False) -> None:
        return


def _binaries() -> dict[str, Path]:
    found = {n: find(n) for n in ("etcd", "kube-apiserver", "kube-controller-manager")}
    missing = [n for n, p in found.items() if p is None]
    if missing:
        raise FileNotFoundError(f"not built: {', '.join(missing)}; run `make tools`")
    return {n: p for n, p in found.items() if p is not None}


@dataclass(frozen=True)
class Flags:
    """Changes to the components' flags, by flag name: a value replaces the default, None removes it."""

    apiserver: Mapping[str, str | None] = field(default_factory=dict)
    controller_manager: Mapping[str, str | None] = field(default_factory=dict)
    ca: Path | None = None
    """The CA that signed the API server's --tls-cert-file; None when the server generates its own."""
    pass_fds: tuple[int, ...] = ()
    """File descriptors every component inherits (the node's lock)."""


def _argv(binary: Path, defaults: dict[str, str], changes: Mapping[str, str | None]) -> list[str]:
    merged: dict[str, str | None] = {**defaults, **changes}
    return [str(binary), *(f"--{k}={v}" for k, v in merged.items() if v is not None)]


def start_control_plane(workdir: Path | None = None, flags: Flags | None = None) -> ControlPlane:
    """Start etcd, kube-apiserver and kube-controller-manager; return once /readyz says ok."""
    flags = flags or Flags()
    bins = _binaries()
    work = workdir or Path(tempfile.mkdtemp(prefix="vigil-controlplane-"))
    work.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    sa_key, sa_pub = _write_key_pair(work)
    operator_token = secrets.token_hex(16)
    # A second, unprivileged user: deploy/rbac.yaml binds the operator's role to it.
    (work / "tokens.csv").write_text(
        f'{token},admin,admin,"system:masters"\n{operator_token},vigil-operator,vigil-operator\n'
    )
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    url = f"https://127.0.0.1:{api_port}"
    kubeconfig = work / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": {"server": url, "insecure-skip-tls-verify": True}}],
                "users": [{"name": "admin", "user": {"token": token}}],
                "contexts": [
                    {
                        "name": "local",
                        "context": {"cluster": "local", "user": "admin", "namespace": "default"},
                    }
                ],
                "current-context": "local",
            }
        )
    )
    cp = ControlPlane(work, url, token, kubeconfig, operator_token=operator_token)
    try:
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = start(
            "etcd",
            [
                str(bins["etcd"]),
                f"--data-dir={work / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            work,
            pass_fds=flags.pass_fds,
        )
        cp.processes.append(etcd)
        wait_until(lambda: _http_ok(f"{etcd_url}/health"), 30, "etcd /health", etcd)
        apiserver_flags = {
            "etcd-servers": etcd_url,
            "bind-address": "127.0.0.1",
            "secure-port": str(api_port),
            "cert-dir": str(work / "certs"),
            # A /16 (65,534 Services, as the node's 10.96.0.0/16): a /24 holds only 254, fewer than
            # the collector Services of a 1,000-stack benchmark.
            "service-cluster-ip-range": "10.0.0.0/16",
            "allow-privileged": "true",
            "authorization-mode": "RBAC",
            "disable-admission-plugins": "ServiceAccount",
            "service-account-issuer": "https://kubernetes.default.svc",
            "service-account-key-file": str(sa_pub),
            "service-account-signing-key-file": str(sa_key),
            "token-auth-file": str(work / "tokens.csv"),
            "v": "1",
        }
        api = start(
            "kube-apiserver",
            _argv(bins["kube-apiserver"], apiserver_flags, flags.apiserver),
            work,
            pass_fds=flags.pass_fds,
        )
        cp.processes.append(api)
        wait_until(lambda: cp.request("/readyz") == "ok", READY_DEADLINE_S, "kube-apiserver /readyz", api)
        _trust_serving_cert(kubeconfig, flags.ca or work / "certs" / "apiserver.crt")
        kcm_flags = {
            "kubeconfig": str(kubeconfig),
            "authentication-kubeconfig": str(kubeconfig),
            "authorization-kubeconfig": str(kubeconfig),
            "controllers": "garbage-collector-controller,namespace-controller",
            "use-service-account-credentials": "false",
            "leader-elect": "false",
            "bind-address": "127.0.0.1",
            "secure-port": str(free_port()),
            "cert-dir": str(work / "kcm-certs"),
            "v": "1",
        }
        kcm = start(
            "kube-controller-manager",
            _argv(bins["kube-controller-manager"], kcm_flags, flags.controller_manager),
            work,
            pass_fds=flags.pass_fds,
        )
        cp.processes.append(kcm)
        wait_until(
            lambda: "Starting controller" in kcm.log.read_text(errors="replace") or _kcm_started(kcm),
            60,
            "kube-controller-manager to start its controllers",
            kcm,
        )
    except BaseException:
        cp.stop(keep=True)
        raise
    return cp


def _trust_serving_cert(kubeconfig: Path, bundle: Path) -> None:
    # The API server wrote its serving cert and the CA that signed it: verify TLS from now on.
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    config["clusters"][0]["cluster"] = {
        "server": cluster["server"],
        "certificate-authority": str(bundle),
    }
    kubeconfig.write_text(yaml.safe_dump(config))


def _kcm_started(proc: Process) -> bool:
    text = proc.log.read_text(errors="replace")
    return "garbage" in text.lower() and "start" in text.lower()


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)
