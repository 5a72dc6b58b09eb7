#!/usr/bin/env python3
"""Build Vigil's pinned test tools from Go modules and cache them per machine.

Tools (built one after another, in this order):

  otelcol-vigil            OpenTelemetry Collector built by ocb from
                           tools/otelcol/manifest.yaml
  etcd                     go.etcd.io/etcd/server/v3, via tools/etcd
  kube-apiserver           k8s.io/kubernetes, via tools/kube
  kube-controller-manager  k8s.io/kubernetes, via tools/kube
  kube-scheduler, kubelet, kube-proxy, kubectl
                           k8s.io/kubernetes, via tools/kube (the node)
  kstatus                  sigs.k8s.io/cli-utils kstatus (what Flux's health
                           checks compute), via tools/kstatus
  argocd-health            Argo CD's Lua health-script runtime (gopher-lua),
                           via tools/argocd-health
  actionlint               github.com/rhysd/actionlint, via tools/actionlint
  coredns                  github.com/coredns/coredns, via tools/coredns (the
                           node's cluster DNS)
  helm                     helm.sh/helm/v3, via tools/helm (the chart)
  prometheus-operator      github.com/prometheus-operator/prometheus-operator
                           cmd/operator, via tools/prometheus-operator
  prometheus-config-reloader  the same module's cmd/prometheus-config-reloader
                           (the e2e tier's Prometheus and Alertmanager pods)
  prometheus-pod           github.com/prometheus/prometheus cmd/prometheus, the
                           version prometheus-operator requires, Kubernetes service
                           discovery only (Debian's Prometheus has none): the e2e
                           tier's Prometheus pod
  telemetrygen             github.com/open-telemetry/opentelemetry-collector-contrib
                           cmd/telemetrygen (OTLP load for the collector
                           benchmark), via tools/telemetrygen

Each build lands OUTSIDE the checkout, in

  ${VIGIL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil/tools}/<name>-<version>/

so every clone on the same machine (CI runs in a fresh clone) reuses it.
`.tools/bin/<name>` in the checkout is a symlink into that directory.

A build counts as done only when its stamp file (written last) holds the
hash of the build's inputs (manifest / go.mod / go.sum / main.go, the tool
version and the Go version) and the binary's `--version` output names the
pinned version. Anything else (an interrupted build, changed inputs, a new
Go) is rebuilt from scratch.

Usage:
  python3 tools/build_tools.py [--force] [TOOL ...]
  python3 tools/build_tools.py --list
  python3 tools/build_tools.py --sync-kube-gomod

Environment: GO (path to the go binary; otherwise `go` on PATH, then
/usr/local/go/bin/go), VIGIL_TOOLS_CACHE, XDG_CACHE_HOME,
VIGIL_TOOLS_NICE (niceness of the builds, default 10).

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLS_DIR.parent
BIN_LINK_DIR = REPO_ROOT / ".tools" / "bin"

# The collector builder release; the manifest pins the component versions
# (kept in step with this by hand: ocb and the components release together).
OCB_MODULE = "go.opentelemetry.io/collector/cmd/builder"
OCB_VERSION = "v0.159.0"
OTELCOL_MANIFEST = TOOLS_DIR / "otelcol" / "manifest.yaml"
OTELCOL_LOCAL_MODULES = ("envprovider",)

ETCD_DIR = TOOLS_DIR / "etcd"
ETCD_MODULE = "go.etcd.io/etcd/server/v3"

KUBE_DIR = TOOLS_DIR / "kube"
KUBE_MODULE = "k8s.io/kubernetes"

# Small consumer modules, one main package each, in tools/<tool name>/.
KSTATUS_MODULE = "sigs.k8s.io/cli-utils"
ARGOCD_HEALTH_MODULE = "github.com/yuin/gopher-lua"
ACTIONLINT_MODULE = "github.com/rhysd/actionlint"
COREDNS_DIR = TOOLS_DIR / "coredns"
COREDNS_MODULE = "github.com/coredns/coredns"
HELM_DIR = TOOLS_DIR / "helm"
HELM_MODULE = "helm.sh/helm/v3"
# Built from a dependency's main package, named by a `tool` directive in the consumer go.mod
# (the upstream main imports the module's internal packages, so no wrapper main can).
PROMOP_DIR = TOOLS_DIR / "prometheus-operator"
PROMOP_MODULE = "github.com/prometheus-operator/prometheus-operator"
PROMETHEUS_MODULE = "github.com/prometheus/prometheus"
TELEMETRYGEN_MODULE = "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen"

STAMP_NAME = ".vigil-stamp.json"
# Bump to force every machine to rebuild (e.g. after changing build flags).
BUILD_RECIPE_REVISION = "1"

REPLACE_BEGIN = "// BEGIN generated staging replaces"
REPLACE_END = "// END generated staging replaces"


# --------------------------------------------------------------------------
# helpers


class BuildError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(msg, flush=True)


def fmt_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def cache_root() -> Path:
    explicit = os.environ.get("VIGIL_TOOLS_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "vigil" / "tools"


def find_go() -> Path:
    """The go binary: $GO, then `go` on PATH, then the usual install dirs."""
    candidates: list[str] = []
    if os.environ.get("GO"):
        candidates.append(os.environ["GO"])
    on_path = shutil.which("go")
    if on_path:
        candidates.append(on_path)
    candidates += [
        "/usr/local/go/bin/go",
        str(Path.home() / "go" / "bin" / "go"),
        "/usr/lib/go/bin/go",
    ]
    for cand in candidates:
        resolved = shutil.which(cand)
        if resolved:
            return Path(resolved)
        if cand == os.environ.get("GO"):
            print(
                f"build_tools: warning: GO={cand} is not an executable; looking elsewhere",
                file=sys.stderr,
            )
    raise BuildError("no Go toolchain found: install Go >= 1.26 (/usr/local/go) or set GO=/path/to/go")


@dataclass
class GoEnv:
    go: Path
    env: dict[str, str]
    version: str

    @classmethod
    def detect(cls) -> GoEnv:
        go = find_go()
        env = dict(os.environ)
        env["PATH"] = f"{go.parent}{os.pathsep}{env.get('PATH', '')}"
        env["GOTOOLCHAIN"] = "local"  # never download another toolchain
        env["CGO_ENABLED"] = "0"
        # Overrides GOFLAGS from the environment and `go env -w` on purpose:
        # builds must not depend on a developer's settings. No VCS stamping,
        # since tools/ is inside this repository's (possibly dirty) checkout.
        env["GOFLAGS"] = "-mod=readonly -buildvcs=false"
        version = subprocess.run(
            [str(go), "env", "GOVERSION"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        return cls(go=go, env=env, version=version)

    def output(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(
            [str(self.go), *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BuildError(f"go {' '.join(args)} failed:\n{proc.stderr.strip()}")
        return proc.stdout


def run_logged(cmd: list[str], *, cwd: Path, env: dict[str, str], logfile: Path) -> None:
    """Run a build step at low priority, streaming output to stdout and a log."""
    what = Path(cmd[0]).name
    if shutil.which("nice"):  # the machine is shared: leave room for others
        cmd = ["nice", "-n", os.environ.get("VIGIL_TOOLS_NICE", "10"), *cmd]
    with logfile.open("a", encoding="utf-8") as fh:
        fh.write(f"$ (cd {cwd} && {' '.join(cmd)})\n")
        fh.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write("    " + line)
            sys.stdout.flush()
            fh.write(line)
        rc = proc.wait()
    if rc != 0:
        raise BuildError(f"{what} exited {rc}; full log: {logfile}")


def sha256_of(parts: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in parts:
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def gomod_require_version(gomod: Path, module: str) -> str:
    m = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", gomod.read_text(), re.M)
    if not m:
        raise BuildError(f"{gomod}: no require line for {module}")
    return m.group(1)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise builds of one tool between checkouts on the same machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"    waiting for another build holding {path}")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------
# tool definitions


@dataclass
class Tool:
    name: str
    version: str  # without a leading "v"
    input_files: list[Path]
    # builds the binary into the given bin dir (workdir is the cache dir)
    build: Callable[[Tool, GoEnv, Path, Path], None]
    # substring `<binary> --version` must print
    version_marker: str
    version_args: list[str] = field(default_factory=lambda: ["--version"])
    extra_inputs: list[str] = field(default_factory=list)
    # First characters of the inputs hash: builds of different inputs (two checkouts on
    # different commits) get different directories instead of rebuilding over each other.
    slot: str = ""

    @property
    def legacy_dir(self) -> Path:
        """Where builds lived before directories carried the inputs hash."""
        return cache_root() / f"{self.name}-{self.version}"

    @property
    def cache_dir(self) -> Path:
        if not self.slot:
            raise BuildError(f"{self.name}: cache directory asked for before its inputs were hashed")
        return cache_root() / f"{self.name}-{self.version}-{self.slot}"

    def locate(self, go_version: str) -> str:
        """Hash the inputs, pick the cache directory for them, and return the hash."""
        inputs_hash = self.inputs_hash(go_version)
        self.slot = inputs_hash[:12]
        return inputs_hash

    def adopt_legacy(self, inputs_hash: str) -> None:
        """Move a build of the same inputs from the old unhashed directory into its slot."""
        stamp = self.legacy_dir / STAMP_NAME
        if self.cache_dir.exists() or not stamp.is_file():
            return
        try:
            if json.loads(stamp.read_text()).get("inputs_hash") == inputs_hash:
                self.legacy_dir.rename(self.cache_dir)
        except (OSError, ValueError):
            return

    @property
    def binary(self) -> Path:
        return self.cache_dir / "bin" / self.name

    def inputs_hash(self, go_version: str) -> str:
        parts = [
            ("recipe", BUILD_RECIPE_REVISION.encode()),
            ("tool", self.name.encode()),
            ("version", self.version.encode()),
            ("go", go_version.encode()),
        ]
        parts += [(f"extra{i}", s.encode()) for i, s in enumerate(self.extra_inputs)]
        for f in self.input_files:
            parts.append((str(f.relative_to(TOOLS_DIR)), f.read_bytes()))
        return sha256_of(parts)

    def version_output(self) -> str:
        proc = subprocess.run(
            [str(self.binary), *self.version_args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return (proc.stdout + proc.stderr).strip()

    def check_cached(self, inputs_hash: str) -> str | None:
        """None if the cached build is complete and current, else why not."""
        stamp = self.cache_dir / STAMP_NAME
        if not stamp.is_file():
            return "not built yet" if not self.cache_dir.exists() else "no stamp (partial build)"
        try:
            data = json.loads(stamp.read_text())
        except (OSError, ValueError):
            return "unreadable stamp"
        if data.get("inputs_hash") != inputs_hash:
            return "inputs changed"
        if not os.access(self.binary, os.X_OK):
            return "binary missing"
        try:
            out = self.version_output()
        except (OSError, subprocess.SubprocessError) as exc:
            return f"binary does not run ({exc})"
        if self.version_marker not in out:
            return f"`{self.name} --version` says {out!r}"
        return None


def build_otelcol(tool: Tool, go: GoEnv, workdir: Path, bindir: Path) -> None:
    logfile = workdir / "build.log"
    ocb_dir = workdir / "ocb"
    ocb_dir.mkdir(exist_ok=True)
    env = dict(go.env, GOBIN=str(ocb_dir), GOFLAGS="-buildvcs=false")
    run_logged(
        [str(go.go), "install", f"{OCB_MODULE}@{OCB_VERSION}"],
        cwd=workdir,
        env=env,
        logfile=logfile,
    )
    # ocb resolves the manifest's relative output_path against its working
    # directory, so the generated sources end up in <workdir>/build.
    # ocb runs `go get` and `go mod tidy`, which -mod=readonly would refuse.
    env = dict(go.env, GOFLAGS="-buildvcs=false")
    # The manifest's local modules (path: ./<dir>) are resolved against ocb's working directory.
    for module in OTELCOL_LOCAL_MODULES:
        shutil.copytree(OTELCOL_MANIFEST.parent / module, workdir / module)
    run_logged(
        [str(ocb_dir / "builder"), f"--config={OTELCOL_MANIFEST}"],
        cwd=workdir,
        env=env,
        logfile=logfile,
    )
    built = workdir / "build" / tool.name
    if not built.is_file():
        raise BuildError(f"ocb finished but {built} is missing; see {logfile}")
    shutil.move(built, bindir / tool.name)


def build_go_main(tool: Tool, go: GoEnv, workdir: Path, bindir: Path, ldflags: str = "") -> None:
    """Build the main package of the consumer module tools/<tool name>/."""
    run_logged(
        [
            str(go.go),
            "build",
            "-trimpath",
            f"-ldflags=-s -w {ldflags}".strip(),
            "-o",
            str(bindir / tool.name),
            ".",
        ],
        cwd=TOOLS_DIR / tool.name,
        env=go.env,
        logfile=workdir / "build.log",
    )


def build_actionlint(tool: Tool, go: GoEnv, workdir: Path, bindir: Path) -> None:
    # Upstream's release builds stamp the version in; a build from the module would say "(devel)".
    build_go_main(tool, go, workdir, bindir, ldflags=f"-X {ACTIONLINT_MODULE}.version=v{tool.version}")


def go_main_inputs(name: str) -> list[Path]:
    folder = TOOLS_DIR / name
    return [folder / "go.mod", folder / "go.sum", folder / "main.go"]


def go_main_version(name: str, module: str) -> str:
    """The version of ``module`` that tools/<name>/go.mod requires, without the leading "v"."""
    return gomod_require_version(TOOLS_DIR / name / "go.mod", module).removeprefix("v")


def kube_ldflags(go: GoEnv, version: str) -> str:
    """The version variables upstream's hack/lib/version.sh stamps in."""
    m = re.fullmatch(r"v(\d+)\.(\d+)\.\d+", version)
    if not m:
        raise BuildError(f"unexpected Kubernetes version {version!r}")
    info = json.loads(go.output("list", "-m", "-json", f"{KUBE_MODULE}@{version}", cwd=KUBE_DIR))
    # Release time of the tag, so the build is reproducible (like SOURCE_DATE_EPOCH).
    build_date = info.get("Time", "1970-01-01T00:00:00Z")
    build_date = re.sub(r"\.\d+", "", build_date)
    values = {
        "gitVersion": version,
        "gitMajor": m.group(1),
        "gitMinor": m.group(2),
        "buildDate": build_date,
    }
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        for key, val in values.items():
            flags.append(f"-X {pkg}.{key}={val}")
    return " ".join(flags)


def build_kube(tool: Tool, go: GoEnv, workdir: Path, bindir: Path) -> None:
    check_kube_gomod(go)
    version = "v" + tool.version
    run_logged(
        [
            str(go.go),
            "build",
            "-trimpath",
            f"-ldflags={kube_ldflags(go, version)}",
            "-o",
            str(bindir / tool.name),
            f"./cmd/{tool.name}",
        ],
        cwd=KUBE_DIR,
        env=go.env,
        logfile=workdir / "build.log",
    )


def helm_ldflags(go: GoEnv, version: str) -> str:
    """The variables upstream's Makefile stamps in: Helm's version and the Kubernetes minor its
    client libraries speak (the default of `helm template`'s .Capabilities.KubeVersion)."""
    client_go = go.output("list", "-m", "-f", "{{.Version}}", "k8s.io/client-go", cwd=HELM_DIR).strip()
    m = re.fullmatch(r"v0\.(\d+)\.\d+", client_go)
    if not m:
        raise BuildError(f"unexpected k8s.io/client-go version {client_go!r} in {HELM_DIR / 'go.mod'}")
    flags = ["-s", "-w", f"-X {HELM_MODULE}/internal/version.version={version}"]
    for pkg in ("pkg/lint/rules", "pkg/chartutil"):
        flags += [f"-X {HELM_MODULE}/{pkg}.k8sVersionMajor=1", f"-X {HELM_MODULE}/{pkg}.k8sVersionMinor={m.group(1)}"]
    return " ".join(flags)


def build_tool_package(
    tool: Tool,
    go: GoEnv,
    workdir: Path,
    bindir: Path,
    *,
    package: str,
    ldflags: str,
    module_dir: Path | None = None,
    tags: str = "",
) -> None:
    """Build ``package``, a main package a `tool` directive of tools/<tool name>/go.mod (or of
    ``module_dir``/go.mod) names.

    Upstream's main imports internal packages or spans many files, so no wrapper main.go can
    call it; the build takes it from the pinned module as it is.
    """
    run_logged(
        [
            str(go.go),
            "build",
            "-trimpath",
            *([f"-tags={tags}"] if tags else []),
            f"-ldflags={ldflags}",
            "-o",
            str(bindir / tool.name),
            package,
        ],
        cwd=module_dir or TOOLS_DIR / tool.name,
        env=go.env,
        logfile=workdir / "build.log",
    )


def build_helm(tool: Tool, go: GoEnv, workdir: Path, bindir: Path) -> None:
    build_tool_package(
        tool, go, workdir, bindir, package=f"{HELM_MODULE}/cmd/helm", ldflags=helm_ldflags(go, "v" + tool.version)
    )


def prometheus_operator_ldflags(go: GoEnv, version: str, module: str = PROMOP_MODULE, release: str = "") -> str:
    """The version variables upstream's Makefile stamps in, from the module's origin (``release``:
    the version the program reports, when the module's differs)."""
    info = json.loads(go.output("list", "-m", "-json", f"{module}@{version}", cwd=PROMOP_DIR))
    values = {
        "Version": release or version.removeprefix("v"),
        "Revision": info.get("Origin", {}).get("Hash", "unknown"),
        "Branch": version,
        # Release time of the tag, so the build is reproducible.
        "BuildDate": re.sub(r"\.\d+", "", info.get("Time", "1970-01-01T00:00:00Z")),
    }
    flags = ["-s", "-w"] + [f"-X github.com/prometheus/common/version.{k}={v}" for k, v in values.items()]
    return " ".join(flags)


def build_prometheus_operator(tool: Tool, go: GoEnv, workdir: Path, bindir: Path) -> None:
    ldflags = prometheus_operator_ldflags(go, "v" + tool.version)
    build_tool_package(tool, go, workdir, bindir, package=f"{PROMOP_MODULE}/cmd/operator", ldflags=ldflags)


def prometheus_release(module_version: str) -> str:
    """Prometheus 3.X.Y is published as Go module version v0.3XX.Y."""
    minor, patch = module_version.removeprefix("v0.").split(".", 1)
    return f"{int(minor) // 100}.{int(minor) % 100}.{patch}"


def build_prometheus(tool: Tool, go: GoEnv, workdir: Path, bindir: Path) -> None:
    """The Prometheus whose config types prometheus-operator is built with (its go.mod's
    requirement), with Kubernetes service discovery only (upstream's build tags)."""
    module_version = gomod_require_version(PROMOP_DIR / "go.mod", PROMETHEUS_MODULE)
    ldflags = prometheus_operator_ldflags(go, module_version, PROMETHEUS_MODULE, tool.version)
    build_tool_package(
        tool,
        go,
        workdir,
        bindir,
        package=f"{PROMETHEUS_MODULE}/cmd/prometheus",
        ldflags=ldflags,
        module_dir=PROMOP_DIR,
        tags="remove_all_sd,enable_kubernetes_sd",
    )


def build_config_reloader(tool: Tool, go: GoEnv, workdir: Path, bindir: Path) -> None:
    """prometheus-operator's config reloader, from the same pinned module (static: the e2e tier's
    image of it has no libc)."""
    ldflags = prometheus_operator_ldflags(go, "v" + tool.version)
    package = f"{PROMOP_MODULE}/cmd/prometheus-config-reloader"
    build_tool_package(tool, go, workdir, bindir, package=package, ldflags=ldflags, module_dir=PROMOP_DIR)


def all_tools() -> list[Tool]:
    otel_version = re.search(r"^\s+version:\s*(\S+)", OTELCOL_MANIFEST.read_text(), re.M)
    if not otel_version:
        raise BuildError(f"{OTELCOL_MANIFEST}: no dist.version")
    etcd_version = gomod_require_version(ETCD_DIR / "go.mod", ETCD_MODULE)
    kube_version = gomod_require_version(KUBE_DIR / "go.mod", KUBE_MODULE)
    helm_version = gomod_require_version(HELM_DIR / "go.mod", HELM_MODULE).removeprefix("v")
    kube_common = [KUBE_DIR / "go.mod", KUBE_DIR / "go.sum"]
    coredns_version = gomod_require_version(COREDNS_DIR / "go.mod", COREDNS_MODULE).removeprefix("v")
    promop_version = gomod_require_version(PROMOP_DIR / "go.mod", PROMOP_MODULE).removeprefix("v")
    prometheus_version = prometheus_release(gomod_require_version(PROMOP_DIR / "go.mod", PROMETHEUS_MODULE))
    telemetrygen_version = go_main_version("telemetrygen", TELEMETRYGEN_MODULE)
    return [
        Tool(
            name="otelcol-vigil",
            version=otel_version.group(1),
            input_files=[
                OTELCOL_MANIFEST,
                *sorted(f for m in OTELCOL_LOCAL_MODULES for f in (OTELCOL_MANIFEST.parent / m).iterdir()),
            ],
            extra_inputs=[OCB_VERSION],
            build=build_otelcol,
            version_marker=f"version {otel_version.group(1)}",
        ),
        Tool(
            name="etcd",
            version=etcd_version.removeprefix("v"),
            input_files=go_main_inputs("etcd"),
            build=build_go_main,
            version_marker=f"etcd Version: {etcd_version.removeprefix('v')}",
        ),
        Tool(
            name="kube-apiserver",
            version=kube_version.removeprefix("v"),
            input_files=[*kube_common, KUBE_DIR / "cmd" / "kube-apiserver" / "main.go"],
            build=build_kube,
            version_marker=f"Kubernetes {kube_version}",
        ),
        *(
            Tool(
                name=name,
                version=kube_version.removeprefix("v"),
                input_files=[*kube_common, KUBE_DIR / "cmd" / name / "main.go"],
                build=build_kube,
                version_marker=f"Kubernetes {kube_version}",
            )
            for name in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")
        ),
        Tool(
            name="kubectl",
            version=kube_version.removeprefix("v"),
            input_files=[*kube_common, KUBE_DIR / "cmd" / "kubectl" / "main.go"],
            build=build_kube,
            version_marker=f"Client Version: {kube_version}",
            version_args=["version", "--client"],
        ),
        *(
            Tool(
                name=name,
                version=go_main_version(name, module),
                input_files=go_main_inputs(name),
                build=build_go_main,
                # Each prints the version of the library it runs, read from its build info.
                version_marker=f"{name} {module} v{go_main_version(name, module)}",
            )
            for name, module in (("kstatus", KSTATUS_MODULE), ("argocd-health", ARGOCD_HEALTH_MODULE))
        ),
        Tool(
            name="actionlint",
            version=go_main_version("actionlint", ACTIONLINT_MODULE),
            input_files=go_main_inputs("actionlint"),
            build=build_actionlint,
            version_marker=f"v{go_main_version('actionlint', ACTIONLINT_MODULE)}\n",
        ),
        Tool(
            name="coredns",
            version=coredns_version,
            input_files=go_main_inputs("coredns"),
            build=build_go_main,
            version_marker=f"CoreDNS-{coredns_version}",
            version_args=["-version"],
        ),
        Tool(
            name="helm",
            version=helm_version,
            input_files=[HELM_DIR / "go.mod", HELM_DIR / "go.sum"],
            build=build_helm,
            version_marker=f'Version:"v{helm_version}"',
            version_args=["version"],
        ),
        # Three programs of one pinned module graph (tools/prometheus-operator/go.mod).
        *(
            Tool(
                name=name,
                version=version,
                input_files=[PROMOP_DIR / "go.mod", PROMOP_DIR / "go.sum"],
                build=build,
                version_marker=f"{program}, version {version} ",
            )
            for name, program, version, build in (
                ("prometheus-operator", "prometheus-operator", promop_version, build_prometheus_operator),
                ("prometheus-config-reloader", "prometheus-config-reloader", promop_version, build_config_reloader),
                ("prometheus-pod", "prometheus", prometheus_version, build_prometheus),
            )
        ),
        Tool(
            name="telemetrygen",
            version=telemetrygen_version,
            input_files=go_main_inputs("telemetrygen"),
            build=build_go_main,
            version_marker=f"telemetrygen {TELEMETRYGEN_MODULE} v{telemetrygen_version}",
        ),
    ]


# --------------------------------------------------------------------------
# tools/kube/go.mod staging replaces


def upstream_staging_replaces(go: GoEnv, kube_version: str) -> list[str]:
    """`k8s.io/X => k8s.io/X v0.Y.Z` for every staging replace upstream has.

    k8s.io/kubernetes requires its staging modules at v0.0.0 and points them
    at ./staging/src/... with replace directives, which only apply inside
    that repository. A consumer must replace each with its published
    version (v1.Y.Z -> v0.Y.Z).
    """
    info = json.loads(go.output("mod", "download", "-json", f"{KUBE_MODULE}@{kube_version}", cwd=Path("/")))
    upstream = Path(info["GoMod"]).read_text()
    staging_version = "v0" + kube_version[kube_version.index(".") :]
    lines = []
    for mod in re.findall(r"^\s*(k8s\.io/\S+)\s+=>\s+\./staging/\S+\s*$", upstream, re.M):
        lines.append(f"\t{mod} => {mod} {staging_version}")
    if not lines:
        raise BuildError(f"no staging replaces found in upstream go.mod {info['GoMod']}")
    return lines


def render_replace_block(lines: list[str]) -> str:
    return "\n".join(
        [
            REPLACE_BEGIN + " (tools/build_tools.py --sync-kube-gomod; do not edit)",
            "replace (",
            *lines,
            ")",
            "",  # go mod tidy keeps a blank line between a block and a comment
            REPLACE_END,
        ]
    )


def _replace_block_re() -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(REPLACE_BEGIN)}.*?^{re.escape(REPLACE_END)}$", re.M | re.S)


def check_kube_gomod(go: GoEnv) -> None:
    gomod = KUBE_DIR / "go.mod"
    version = gomod_require_version(gomod, KUBE_MODULE)
    want = render_replace_block(upstream_staging_replaces(go, version))
    m = _replace_block_re().search(gomod.read_text())

    def norm(block: str) -> list[str]:
        return [line.strip() for line in block.splitlines() if line.strip()]

    if not m or norm(m.group(0)) != norm(want):
        raise BuildError(
            f"{gomod}: the staging replace block does not match upstream {KUBE_MODULE} "
            f"{version}; run `python3 tools/build_tools.py --sync-kube-gomod` and commit the result"
        )


def sync_kube_gomod(go: GoEnv) -> None:
    gomod = KUBE_DIR / "go.mod"
    version = gomod_require_version(gomod, KUBE_MODULE)
    block = render_replace_block(upstream_staging_replaces(go, version))
    text = gomod.read_text()
    pattern = _replace_block_re()
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    gomod.write_text(text)
    log(f"wrote the staging replaces of {KUBE_MODULE} {version} into {gomod}; running go mod tidy")
    env = dict(go.env, GOFLAGS="-buildvcs=false")
    subprocess.run([str(go.go), "mod", "tidy"], cwd=KUBE_DIR, env=env, check=True)


# --------------------------------------------------------------------------
# main


def link(tool: Tool) -> None:
    BIN_LINK_DIR.mkdir(parents=True, exist_ok=True)
    dest = BIN_LINK_DIR / tool.name
    if dest.is_symlink() and os.readlink(dest) == str(tool.binary):
        return
    tmp = dest.with_name(f".{tool.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(tool.binary)
    tmp.replace(dest)


def ensure(tool: Tool, go: GoEnv, force: bool) -> None:
    started = time.monotonic()
    inputs_hash = tool.locate(go.version)
    label = f"{tool.name} {tool.version}"
    with locked(cache_root() / f".{tool.name}-{tool.version}.lock"):
        tool.adopt_legacy(inputs_hash)
        reason = "--force" if force else tool.check_cached(inputs_hash)
        if reason is None:
            link(tool)
            took = fmt_duration(time.monotonic() - started)
            log(f"{label}: cached in {tool.cache_dir} (checked in {took})")
            return
        log(f"{label}: building ({reason}) with {go.version} into {tool.cache_dir}")
        workdir = tool.cache_dir
        # Start clean, so nothing of a failed or stale build survives.
        if workdir.exists():
            shutil.rmtree(workdir)
        bindir = workdir / "bin"
        bindir.mkdir(parents=True)
        tool.build(tool, go, workdir, bindir)
        out = tool.version_output()
        if tool.version_marker not in out:
            raise BuildError(f"built {tool.binary} but `--version` says {out!r}")
        elapsed = time.monotonic() - started
        stamp = {
            "tool": tool.name,
            "version": tool.version,
            "inputs_hash": inputs_hash,
            "go": go.version,
            "version_output": out,
            "build_seconds": round(elapsed, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        tmp = workdir / (STAMP_NAME + ".tmp")
        tmp.write_text(json.dumps(stamp, indent=2) + "\n")
        tmp.replace(workdir / STAMP_NAME)  # written last: marks the build complete
        link(tool)
        log(f"{label}: built in {fmt_duration(elapsed)} -> {out.splitlines()[0]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tools", nargs="*", help="tools to build (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--list", action="store_true", help="print tools, versions and cache dirs")
    parser.add_argument(
        "--sync-kube-gomod",
        action="store_true",
        help="regenerate the staging replaces in tools/kube/go.mod from upstream and tidy it",
    )
    args = parser.parse_args(argv)
    try:
        go = GoEnv.detect()
        if args.sync_kube_gomod:
            sync_kube_gomod(go)
            return 0
        tools = all_tools()
        if args.list:
            for t in tools:
                t.locate(go.version)
                log(f"{t.name}\t{t.version}\t{t.cache_dir}")
            return 0
        known = {t.name: t for t in tools}
        unknown = [n for n in args.tools if n not in known]
        if unknown:
            parser.error(f"unknown tool(s) {', '.join(unknown)}; known: {', '.join(known)}")
        selected = [t for t in tools if not args.tools or t.name in args.tools]
        started = time.monotonic()
        for tool in selected:  # one at a time: builds take both cores
            ensure(tool, go, args.force)
        log(f"tools ready in {BIN_LINK_DIR} ({fmt_duration(time.monotonic() - started)} total)")
        return 0
    except BuildError as exc:
        print(f"build_tools: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
