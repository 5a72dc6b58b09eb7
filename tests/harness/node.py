"""A single-node Kubernetes cluster on this machine that runs pods, assembled from upstream parts.

etcd, kube-apiserver, kube-controller-manager (every controller), kube-scheduler, kubelet,
kube-proxy (iptables) and CoreDNS from `make tools`; containerd, runc and the CNI plugins from
Debian; the images of `make images` (pause included) imported into containerd. Pods get
addresses on the bridge ``vigil0`` (10.88.0.0/16, whose gateway 10.88.0.1 is the node's own
address); Services take 10.96.0.0/16. Nothing routes off the machine: pods' traffic that would
leave the bridge and service-range traffic no Service answers are rejected, and CoreDNS answers
only for cluster.local.

One node per machine (kubelet's ports and paths are fixed): ``start_node`` takes an exclusive
flock on LOCK_FILE that every component inherits, so the lock is held exactly as long as any
part of a node runs, and the file says who started it. ``teardown`` removes everything a node
created, from the state file, so `make cluster-down` works from another process. Needs root.

Used by `make cluster` (scripts/cluster.py), the e2e tier's session fixture and `make demo`.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import fcntl
import ipaddress
import json
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.harness.controlplane import ControlPlane, Flags, start_control_plane
from tests.harness.process import Process, StartupError, start, wait_until
from tests.harness.tools import ROOT, find, free_port

NODE_DIR = Path(os.environ.get("VIGIL_NODE_DIR", "/var/lib/vigil-node"))
LOCK_FILE = Path("/run/lock/vigil-node.lock")
NODE_NAME = "vigil-node"
BRIDGE = "vigil0"
NODE_IP = "10.88.0.1"
POD_CIDR = "10.88.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
IMAGES_DIR = ROOT / "build" / "images"
PAUSE_IMAGE = "localhost/vigil/pause:3.10.2"
CNI_BIN = Path("/usr/lib/cni")
# Chains of ours in the filter table; kube-proxy's and kubelet's start KUBE-, the CNI plugins' CNI-.
GUARD_FORWARD = "VIGIL-NODE-FORWARD"
GUARD_OUTPUT = "VIGIL-NODE-OUTPUT"
CHAIN_PREFIXES = ("KUBE-", "CNI-", "VIGIL-NODE-")
# Paths outside NODE_DIR that kubelet, containerd and the CNI plugins always use.
FIXED_PATHS = (
    Path("/var/lib/kubelet"),
    Path("/var/log/pods"),
    Path("/var/log/containers"),
    Path("/var/lib/cni"),
    Path("/run/containerd"),
)
SYSCTLS = ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables")
KUBELET_PORTS = (10250, 10248)
# Teardown stops these first, in this order, then the rest in reverse start order.
STOP_FIRST = ("kubelet", "kube-proxy", "kube-scheduler", "coredns")
NODE_READY_S = 120.0
DNS_READY_S = 60.0
REQUIRED_TOOLS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "coredns",
    "kubectl",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "runc",
    "iptables",
    "ip6tables",
    "conntrack",
)


class NodeError(RuntimeError):
    """The node cannot start here; the message says why and what to do."""


def missing_requirements() -> list[str]:
    """Why a node cannot start on this machine ([] when it can): root, tools, CNI plugins."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the local node needs root (kubelet, containerd, iptables and the bridge)")
    missing = [t for t in REQUIRED_TOOLS if find(t) is None]
    if missing:
        problems.append(f"not installed: {', '.join(missing)} (make tools; make system-deps)")
    if not all((CNI_BIN / p).exists() for p in ("bridge", "host-local", "loopback", "portmap")):
        problems.append(f"CNI plugins missing in {CNI_BIN}: scripts/apt-install.sh containernetworking-plugins")
    return problems


# --------------------------------------------------------------------------
# the lock and the state file


def lock_holder() -> str:
    """Who holds the node lock, from what its holder wrote into the file."""
    try:
        info = json.loads(LOCK_FILE.read_text() or "{}")
    except (OSError, ValueError):
        return "unknown (unreadable lock file)"
    return (
        f"pid {info.get('pid')} ({info.get('command', '?')}) in {info.get('cwd', '?')} "
        f"since {info.get('started', '?')}; state in {info.get('node_dir', '?')}"
    )


def _take_lock(wait_s: float) -> int:
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    end = time.monotonic() + wait_s
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= end:
                os.close(fd)
                raise NodeError(
                    f"another local node runs on this machine (one per machine): {lock_holder()}. "
                    "Stop it with `make cluster-down` in that checkout (or wait for its tests to end)."
                ) from None
            if not told:
                print(f"waiting up to {wait_s:.0f}s for the local node held by {lock_holder()}", flush=True)
                told = True
            time.sleep(2)
    owner = {
        "pid": os.getpid(),
        "command": shlex.join(Path(f"/proc/{os.getpid()}/cmdline").read_text().split("\0")[:-1])[:200],
        "cwd": os.getcwd(),
        "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "node_dir": str(NODE_DIR),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(owner).encode(), 0)
    return fd


@dataclass
class State:
    """What a node created, written as it goes, so teardown works from any process."""

    path: Path
    pids: dict[str, int] = field(default_factory=dict)
    sysctls: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pids": self.pids, "sysctls": self.sysctls, "created": self.created}))
        tmp.replace(self.path)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(path)
        return cls(path, dict(data.get("pids", {})), dict(data.get("sysctls", {})), list(data.get("created", [])))


# --------------------------------------------------------------------------
# certificates


@dataclass(frozen=True)
class _Issuer:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _certificate(
    subject: x509.Name, key: rsa.RSAPrivateKey, issuer: _Issuer | None, *, ca: bool = False, sans: tuple[str, ...] = ()
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if sans else [])
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        names: list[x509.GeneralName] = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


def _write_pair(folder: Path, name: str, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> tuple[Path, Path]:
    crt, pem = folder / f"{name}.crt", folder / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    pem.chmod(0o600)
    return crt, pem


def _pki(folder: Path) -> dict[str, Path]:
    """A CA and the certificates the node's components present, as file paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = _new_key()
    ca = _Issuer(ca_key, _certificate(_name("vigil-node-ca"), ca_key, None, ca=True))
    files: dict[str, Path] = {}
    files["ca.crt"], files["ca.key"] = _write_pair(folder, "ca", ca.key, ca.cert)
    wanted: dict[str, tuple[x509.Name, tuple[str, ...]]] = {
        # The API server as clients reach it: loopback, the `kubernetes` Service, the node.
        "apiserver": (
            _name("kube-apiserver"),
            (
                "127.0.0.1",
                API_SERVICE_IP,
                NODE_IP,
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                f"kubernetes.default.svc.{CLUSTER_DOMAIN}",
            ),
        ),
        "apiserver-kubelet-client": (_name("kube-apiserver-kubelet-client", ("system:masters",)), ()),
        # The Node authorizer and NodeRestriction know the kubelet by this name and group.
        "kubelet-client": (_name(f"system:node:{NODE_NAME}", ("system:nodes",)), ()),
        "kubelet-server": (_name(NODE_NAME), (NODE_IP, NODE_NAME, "127.0.0.1")),
    }
    for name, (subject, sans) in wanted.items():
        key = _new_key()
        files[f"{name}.crt"], files[f"{name}.key"] = _write_pair(
            folder, name, key, _certificate(subject, key, ca, sans=sans)
        )
    return files


def _kubeconfig(path: Path, server: str, ca: Path, user: dict[str, str]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "vigil-node", "cluster": {"server": server, "certificate-authority": str(ca)}}],
                "users": [{"name": "user", "user": user}],
                "contexts": [{"name": "vigil-node", "context": {"cluster": "vigil-node", "user": "user"}}],
                "current-context": "vigil-node",
            }
        )
    )
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------
# host plumbing: commands, sysctls, the bridge, iptables


def _run(*cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=timeout)
    if check and done.returncode != 0:
        raise NodeError(f"{shlex.join(cmd)} exited {done.returncode}: {(done.stderr or done.stdout).strip()}")
    return done


def _sysctl(name: str, value: str | None = None) -> str:
    path = Path("/proc/sys") / name
    old = path.read_text().strip()
    if value is not None and value != old:
        path.write_text(value)
    return old


def _iptables_guard() -> None:
    """Reject pod traffic that would leave the bridge, and service-range traffic no Service answers."""
    for chain, hook, rule in (
        (GUARD_FORWARD, "FORWARD", ["-i", BRIDGE, "!", "-o", BRIDGE]),
        (GUARD_OUTPUT, "OUTPUT", ["-d", SERVICE_CIDR]),
    ):
        _run("iptables", "-w", "-N", chain)
        _run(
            "iptables", "-w", "-A", chain, *rule, "-m", "comment", "--comment", "vigil-node: stay on this machine",
            "-j", "REJECT",
        )  # fmt: skip
        _run("iptables", "-w", "-I", hook, "1", "-j", chain)


def _delete_chains(prefixes: tuple[str, ...]) -> list[str]:
    """Remove every rule jumping to and every chain named with ``prefixes``, IPv4 and IPv6."""
    removed = []
    for binary in ("iptables", "ip6tables"):
        if shutil.which(binary) is None:
            continue
        for table in ("filter", "nat", "mangle", "raw"):
            listing = _run(binary, "-w", "-t", table, "-S", check=False)
            if listing.returncode != 0:
                continue
            ours = []
            for line in listing.stdout.splitlines():
                words = shlex.split(line)
                if words[:1] == ["-N"] and words[1].startswith(prefixes):
                    ours.append(words[1])
                elif words[:1] == ["-A"] and not words[1].startswith(prefixes):
                    target = words[words.index("-j") + 1] if "-j" in words else ""
                    if target.startswith(prefixes):
                        _run(binary, "-w", "-t", table, "-D", *words[1:], check=False)
            for chain in ours:
                _run(binary, "-w", "-t", table, "-F", chain, check=False)
            for chain in ours:
                if _run(binary, "-w", "-t", table, "-X", chain, check=False).returncode == 0:
                    removed.append(f"{binary} -t {table} {chain}")
    return removed


def _bridge_up() -> None:
    if _run("ip", "link", "show", BRIDGE, check=False).returncode != 0:
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
    prefix = POD_CIDR.split("/")[1]
    _run("ip", "addr", "replace", f"{NODE_IP}/{prefix}", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")


# --------------------------------------------------------------------------
# processes by PID, mounts and cgroups (teardown works from any process)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _kill(pid: int, deadline_s: float = 15.0) -> None:
    """SIGTERM ``pid``, SIGKILL it after ``deadline_s`` seconds, and wait until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + deadline_s
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.1)


def _started_by_us(pid: int, node_dir: Path) -> bool:
    """The process still is one of the node's (its command line names the node folder)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return str(node_dir) in cmdline


def processes_of(node_dir: Path) -> list[int]:
    """Every process whose command line names the node folder (components, containerd's shims)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid != os.getpid() and _alive(pid) and _started_by_us(pid, node_dir):
            found.append(pid)
    return found


def lock_holders() -> list[int]:
    """Every process that still has the node lock open (whatever a component left behind)."""
    holders = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == str(LOCK_FILE):
                        holders.append(int(fd_dir.parent.name))
                        break
    return [p for p in holders if p != os.getpid()]


def _cgroup_dirs() -> list[Path]:
    """The kubepods cgroup of every hierarchy (cgroup v1 has one per controller)."""
    return sorted(p for p in Path("/sys/fs/cgroup").glob("*/kubepods") if p.is_dir())


def _kill_pods() -> int:
    """SIGKILL every process in a kubepods cgroup; return how many there were."""
    pids: set[int] = set()
    for top in _cgroup_dirs():
        for procs in top.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                pids |= {int(p) for p in procs.read_text().split()}
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + 15
    while any(_alive(p) for p in pids) and time.monotonic() < end:
        time.sleep(0.1)
    return len(pids)


def _remove_cgroups() -> list[str]:
    removed = []
    for top in _cgroup_dirs():
        for folder in [*sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)), top]:
            with contextlib.suppress(OSError):
                folder.rmdir()
        if not top.exists():
            removed.append(str(top))
    return removed


_MNT_DETACH = 2


def _unmount_under(*roots: Path) -> list[str]:
    """Lazily unmount every mount point under ``roots``, deepest first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if any(point == str(r) or point.startswith(f"{r}/") for r in roots):
            points.append(point)
    libc = ctypes.CDLL(None, use_errno=True)
    done = []
    for point in sorted(set(points), key=lambda p: -p.count("/")):
        if libc.umount2(point.encode(), _MNT_DETACH) == 0:
            done.append(point)
    return done


# --------------------------------------------------------------------------
# component configuration


def _containerd_config(node_dir: Path) -> str:
    base = node_dir / "containerd"
    return f"""version = 2
root = "{base / "root"}"
state = "{base / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "{base / "containerd.sock"}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{base / "opt"}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # Processes here lack CAP_SYS_RESOURCE: a sandbox's oom_score_adj of -998 would make runc fail.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{node_dir / "cni" / "net.d"}"
"""


def _cni_config(node_dir: Path) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "vigil-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,  # pod traffic never leaves the machine
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(node_dir / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def _kubelet_config(node_dir: Path, pki: dict[str, Path], socket_path: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki["ca.crt"])},
        },
        "authorization": {"mode": "Webhook"},
        "address": NODE_IP,
        "healthzBindAddress": "127.0.0.1",
        "readOnlyPort": 0,
        "tlsCertFile": str(pki["kubelet-server.crt"]),
        "tlsPrivateKeyFile": str(pki["kubelet-server.key"]),
        "containerRuntimeEndpoint": f"unix://{socket_path}",
        # cgroup v1 here: kubelet 1.36 refuses it unless told otherwise.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "clusterDomain": CLUSTER_DOMAIN,
        "clusterDNS": [DNS_SERVICE_IP],
        # Pods with dnsPolicy Default get no resolver: nothing is looked up off the machine.
        "resolvConf": "",
        "podLogsDir": str(node_dir / "pod-logs"),
        # A shared machine: never evict for disk or memory others use, never collect our images.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "maxPods": 250,
    }


def _kube_proxy_config(kubeconfig: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "hostnameOverride": NODE_NAME,
        "clusterCIDR": POD_CIDR,
        "healthzBindAddress": f"127.0.0.1:{free_port()}",
        "metricsBindAddress": f"127.0.0.1:{free_port()}",
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "iptables": {"localhostNodePorts": False},
        # 0 leaves the machine's conntrack settings alone.
        "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }


def _corefile(kubeconfig: Path, ready_port: int) -> str:
    # No `forward`: names outside the cluster are not looked up anywhere.
    return f""".:53 {{
    bind {NODE_IP}
    errors
    ready 127.0.0.1:{ready_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
    loadbalance
}}
"""


def _dns_service() -> list[dict[str, Any]]:
    """kube-dns: a Service at DNS_SERVICE_IP whose endpoint is CoreDNS on the node's address."""
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "spec": {"clusterIP": DNS_SERVICE_IP, "ports": [{**p, "targetPort": 53} for p in ports]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kube-dns-node",
                "namespace": "kube-system",
                "labels": {"kubernetes.io/service-name": "kube-dns"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
            "ports": ports,
        },
    ]


def dns_query(server: str, name: str, timeout: float = 2.0) -> list[str]:
    """The A records ``server`` answers for ``name`` (a plain UDP DNS query); [] for none."""
    ident = os.getpid() & 0xFFFF
    question = b"".join(bytes([len(part)]) + part.encode() for part in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, 53))
        reply = sock.recv(4096)
    _, flags, _, answers, _, _ = struct.unpack(">HHHHHH", reply[:12])
    if flags & 0x000F:  # rcode: NXDOMAIN, REFUSED, ...
        return []
    offset = 12 + len(question) + 4
    found = []
    for _ in range(answers):
        while reply[offset] != 0 and reply[offset] & 0xC0 != 0xC0:
            offset += reply[offset] + 1
        offset += 2 if reply[offset] & 0xC0 == 0xC0 else 1
        rtype, _, _, length = struct.unpack(">HHIH", reply[offset : offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            found.append(socket.inet_ntoa(reply[offset : offset + 4]))
        offset += length
    return found


# --------------------------------------------------------------------------
# the node


@dataclass
class Node(ControlPlane):
    """A running local node: the control plane plus kubelet, containerd, kube-proxy and CoreDNS."""

    node_dir: Path = NODE_DIR
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def containerd_socket(self) -> Path:
        return self.node_dir / "containerd" / "containerd.sock"

    def ctr(self, *args: str, timeout: float = 300) -> str:
        """Run ``ctr`` in containerd's k8s.io namespace (where kubelet's images live)."""
        return _run("ctr", "-a", str(self.containerd_socket), "-n", "k8s.io", *args, timeout=timeout).stdout

    def import_image(self, archive: Path) -> None:
        """Import a docker-archive so pods can use its tag without a registry."""
        self.ctr("images", "import", str(archive))

    def images(self) -> list[str]:
        return self.ctr("images", "list", "-q").split()

    def stop(self, keep: bool = False) -> None:
        """Stop every component and remove everything the node created (its logs too unless ``keep``)."""
        teardown(self.node_dir, keep_logs=keep, running=self.processes)


def start_node(images: tuple[Path, ...] = (), wait_s: float = 0.0) -> Node:
    """Start the local node, import ``images`` (docker-archives) and return once it is Ready with DNS.

    Waits up to ``wait_s`` seconds for another node on this machine to go away. Raises NodeError
    when it cannot run here (not root, tools missing, another node still running).
    """
    problems = missing_requirements()
    if problems:
        raise NodeError("; ".join(problems))
    pause = IMAGES_DIR / "pause.tar"
    if not pause.is_file():
        raise NodeError(f"{pause} is missing: run `make images`")
    lock_fd = _take_lock(wait_s)
    started = time.monotonic()
    if NODE_DIR.exists():  # left by a node that crashed: its processes are gone (the lock was free)
        teardown(NODE_DIR)
    NODE_DIR.mkdir(parents=True)
    state = State(NODE_DIR / "state.json")
    state.created = [str(p) for p in FIXED_PATHS if not p.exists()]
    state.save()
    node: Node | None = None
    try:
        for name in SYSCTLS:
            state.sysctls[name] = _sysctl(name, "1")
        state.save()
        _bridge_up()
        _iptables_guard()
        pki = _pki(NODE_DIR / "pki")
        flags = Flags(
            apiserver={
                "bind-address": "0.0.0.0",  # pods reach it through the `kubernetes` Service
                "advertise-address": NODE_IP,
                "service-cluster-ip-range": SERVICE_CIDR,
                "authorization-mode": "Node,RBAC",
                "disable-admission-plugins": None,
                "enable-admission-plugins": "NodeRestriction",
                "tls-cert-file": str(pki["apiserver.crt"]),
                "tls-private-key-file": str(pki["apiserver.key"]),
                "client-ca-file": str(pki["ca.crt"]),
                "kubelet-client-certificate": str(pki["apiserver-kubelet-client.crt"]),
                "kubelet-client-key": str(pki["apiserver-kubelet-client.key"]),
                "kubelet-preferred-address-types": "InternalIP,Hostname",
            },
            controller_manager={
                "controllers": "*",
                "use-service-account-credentials": "true",
                "root-ca-file": str(pki["ca.crt"]),
                # The key the control plane's API server verifies service-account tokens with.
                "service-account-private-key-file": str(NODE_DIR / "controlplane" / "sa.key"),
                "cluster-signing-cert-file": str(pki["ca.crt"]),
                "cluster-signing-key-file": str(pki["ca.key"]),
            },
            ca=pki["ca.crt"],
            pass_fds=(lock_fd,),
        )
        cp = start_control_plane(NODE_DIR / "controlplane", flags)
        node = Node(cp.workdir, cp.url, cp.token, cp.kubeconfig, cp.processes, cp.operator_token, node_dir=NODE_DIR)
        _record(state, node.processes)
        node.timings["control plane"] = time.monotonic() - started
        _start_node_components(node, pki, lock_fd, state)
        for archive in (pause, *images):
            node.import_image(archive)
        node.timings["images imported"] = time.monotonic() - started
        node.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(_dns_service()))
        wait_until(lambda: _node_ready(node), NODE_READY_S, f"node {NODE_NAME} Ready", _proc(node, "kubelet"))
        node.timings["node Ready"] = time.monotonic() - started
        fqdn = f"kubernetes.default.svc.{CLUSTER_DOMAIN}"
        wait_until(
            lambda: dns_query(DNS_SERVICE_IP, fqdn) == [API_SERVICE_IP],
            DNS_READY_S,
            f"{fqdn} to resolve to {API_SERVICE_IP} through kube-dns ({DNS_SERVICE_IP})",
            _proc(node, "coredns"),
        )
        node.timings["DNS"] = time.monotonic() - started
    except BaseException:
        if node is not None:
            for proc in node.processes:
                print(f"--- {proc.name} ---\n{proc.tail(15)}")
        teardown(NODE_DIR, keep_logs=True, running=node.processes if node else [])
        raise
    finally:
        os.close(lock_fd)  # the components hold it from here on
    return node


def _record(state: State, processes: list[Process]) -> None:
    state.pids.update({p.name: p.pid for p in processes})
    state.save()


def _proc(node: Node, name: str) -> Process:
    return next(p for p in node.processes if p.name == name)


def _node_ready(node: Node) -> bool:
    out = node.kubectl("get", "node", NODE_NAME, "-o", "json", "--ignore-not-found", check=False).stdout
    if not out.strip():
        return False
    conditions = json.loads(out)["status"].get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _start_node_components(node: Node, pki: dict[str, Path], lock_fd: int, state: State) -> None:
    work = node.node_dir
    fds = (lock_fd,)
    for port in KUBELET_PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise NodeError(f"port {port} (kubelet) is in use on this machine: another kubelet runs here")
    (work / "containerd").mkdir()
    config = work / "containerd" / "config.toml"
    config.write_text(_containerd_config(work))
    (work / "cni" / "net.d").mkdir(parents=True)
    (work / "cni" / "net.d" / "10-vigil-node.conflist").write_text(json.dumps(_cni_config(work), indent=2))
    containerd = start("containerd", [str(find("containerd")), f"--config={config}"], work, pass_fds=fds)
    node.processes.append(containerd)
    _record(state, node.processes)
    wait_until(node.containerd_socket.exists, 30, "containerd's socket", containerd)
    admin = node.kubeconfig
    server = node.url
    kubelet_kubeconfig = _kubeconfig(
        work / "kubelet.kubeconfig",
        server,
        pki["ca.crt"],
        {"client-certificate": str(pki["kubelet-client.crt"]), "client-key": str(pki["kubelet-client.key"])},
    )
    kubelet_config = work / "kubelet-config.yaml"
    kubelet_config.write_text(yaml.safe_dump(_kubelet_config(work, pki, node.containerd_socket)))
    proxy_config = work / "kube-proxy-config.yaml"
    proxy_config.write_text(yaml.safe_dump(_kube_proxy_config(admin)))
    dns_ready = free_port()
    corefile = work / "Corefile"
    corefile.write_text(_corefile(admin, dns_ready))
    commands = {
        "kube-scheduler": [
            str(find("kube-scheduler")),
            f"--kubeconfig={admin}",
            f"--authentication-kubeconfig={admin}",
            f"--authorization-kubeconfig={admin}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--v=1",
        ],
        "kubelet": [
            str(find("kubelet")),
            f"--config={kubelet_config}",
            f"--kubeconfig={kubelet_kubeconfig}",
            f"--root-dir={work / 'kubelet'}",
            f"--cert-dir={work / 'kubelet' / 'pki'}",
            f"--node-ip={NODE_IP}",
            f"--hostname-override={NODE_NAME}",
            "--v=1",
        ],
        "kube-proxy": [str(find("kube-proxy")), f"--config={proxy_config}", "--v=1"],
        "coredns": [str(find("coredns")), "-conf", str(corefile)],
    }
    for name, argv in commands.items():
        node.processes.append(start(name, argv, work, pass_fds=fds))
        _record(state, node.processes)
    wait_until(lambda: _http_ok(f"http://127.0.0.1:{dns_ready}/ready"), 60, "CoreDNS /ready", _proc(node, "coredns"))


def _http_ok(url: str) -> bool:
    import urllib.request  # noqa: PLC0415 - only the readiness probes need it

    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)


def teardown(node_dir: Path = NODE_DIR, keep_logs: bool = False, running: list[Process] | None = None) -> list[str]:
    """Stop a node and remove everything it created; return what was removed (for the report).

    Works from the state file alone, so it also cleans up after a node whose starter died.
    """
    state = State.load(node_dir / "state.json")
    done: list[str] = []
    procs = {p.name: p for p in running or []}
    order = [n for n in STOP_FIRST if n in state.pids] + [n for n in reversed(state.pids) if n not in STOP_FIRST]
    for name in order:
        if name == "containerd":
            killed = _kill_pods()
            if killed:
                done.append(f"{killed} pod processes")
            for pid in processes_of(node_dir):
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/comm").read_text().startswith("containerd-shim"):
                        _kill(pid)
        if name in procs:
            procs[name].stop(timeout=15)
        elif _started_by_us(state.pids[name], node_dir):
            _kill(state.pids[name])
        done.append(f"{name} (pid {state.pids[name]})")
    # Anything a component started that outlived it: shims, or processes holding the lock.
    for pid in sorted({*processes_of(node_dir), *(p for p in lock_holders() if _started_by_us(p, node_dir))}):
        _kill(pid)
        done.append(f"leftover pid {pid}")
    _kill_pods()
    done += [f"mount {m}" for m in _unmount_under(node_dir, *FIXED_PATHS)]
    done += [f"cgroup {c}" for c in _remove_cgroups()]
    proxy = find("kube-proxy")
    if proxy is not None and shutil.which("iptables"):
        _run(str(proxy), "--cleanup", "--v=0", check=False)
    done += [f"chain {c}" for c in _delete_chains(CHAIN_PREFIXES)]
    if _run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
        _run("ip", "link", "delete", BRIDGE, check=False)
        done.append(f"bridge {BRIDGE}")
    for name, value in state.sysctls.items():
        with contextlib.suppress(OSError):
            _sysctl(name, value)
            done.append(f"sysctl {name}={value}")
    for path in state.created:
        if Path(path).exists():
            shutil.rmtree(path, ignore_errors=True)
            done.append(path)
    if node_dir.exists():
        if keep_logs:
            logs = node_dir.with_name(node_dir.name + "-logs")
            shutil.rmtree(logs, ignore_errors=True)
            logs.mkdir()
            for log in [*node_dir.glob("*.log"), *node_dir.glob("controlplane/*.log")]:
                shutil.copy(log, logs / log.name)
            done.append(f"logs kept in {logs}")
        shutil.rmtree(node_dir, ignore_errors=True)
        done.append(str(node_dir))
    return done


@contextlib.contextmanager
def running_node(images: tuple[Path, ...] = ()) -> Iterator[Node]:
    """The node for a ``with`` block, torn down afterwards (logs kept if the block raised)."""
    node = start_node(images)
    ok = False
    try:
        yield node
        ok = True
    finally:
        node.stop(keep=not ok)


__all__ = ["Node", "NodeError", "StartupError", "dns_query", "lock_holder", "lock_holders", "start_node", "teardown"]
