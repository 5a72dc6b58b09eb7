"""`make images`: Vigil's container images as docker-archive tarballs, built without a daemon.

  build/images/otelcol-vigil.tar   ghcr.io/vigil-operator/otelcol-vigil:<collector version>
  build/images/vigil-operator.tar  ghcr.io/vigil-operator/vigil:<vigil version>
  build/images/pause.tar           localhost/vigil/pause:<pause version> (the local node's sandbox)

They hold the same files and settings as images/collector/Dockerfile and images/operator/Dockerfile
(a tools-tier test compares them). The slow inputs are cached per machine under
``${XDG_CACHE_HOME:-~/.cache}/vigil/images/``, keyed by what they are built from: the operator's
Debian root file system (images/operator/rootfs.sh), the Python packages
(images/operator/requirements.txt) and the pause binary (pause.c and gcc).

Usage: python images/build.py [collector|operator|pause ...] [--out DIR]
       python images/build.py --lock     rewrite images/operator/requirements.txt from the venv
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from images.archive import ImageConfig, Layer, write_archive
from packaging.requirements import Requirement  # in the venv `make images` runs with

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "images"
OUT = ROOT / "build" / "images"
TOOLS_BIN = ROOT / ".tools" / "bin"
ROOTFS_SCRIPT = IMAGES / "operator" / "rootfs.sh"
REQUIREMENTS = IMAGES / "operator" / "requirements.txt"
KUBE_GOMOD = ROOT / "tools" / "kube" / "go.mod"
OTELCOL_MANIFEST = ROOT / "tools" / "otelcol" / "manifest.yaml"

PYTHON = "python3.11"
SITE = f"usr/local/lib/{PYTHON}/dist-packages"
UID = 10001
PAUSE_UID = 65535


def collector_version() -> str:
    """The collector release built by tools/otelcol/manifest.yaml (dist.version)."""
    found = re.search(r"^\s+version:\s*(\S+)", OTELCOL_MANIFEST.read_text(), re.M)
    if not found:
        raise BuildError(f"{OTELCOL_MANIFEST}: no dist.version")
    return found.group(1)


def vigil_version() -> str:
    """``vigil.__version__`` (read from the source: this script does not import the package)."""
    found = re.search(r'^__version__ = "([^"]+)"', (ROOT / "operator" / "vigil" / "__init__.py").read_text(), re.M)
    if not found:
        raise BuildError("operator/vigil/__init__.py: no __version__")
    return found.group(1)


PAUSE_VERSION = "3.10.2"  # TAG in build/pause/Makefile of k8s.io/kubernetes v1.36.3


@dataclass(frozen=True)
class Image:
    """One image: its tag, archive file, settings and the paths its own files land at."""

    name: str
    tag: str
    config: ImageConfig
    copies: tuple[str, ...]
    """Where the Dockerfile's final stage COPYs to: the files this image adds to its base."""

    def archive(self, out: Path = OUT) -> Path:
        """Where the docker-archive of this image is written in folder ``out``."""
        return out / f"{self.name}.tar"


def images() -> dict[str, Image]:
    """The images `make images` builds, by short name."""
    return {
        "collector": Image(
            "otelcol-vigil",
            f"ghcr.io/vigil-operator/otelcol-vigil:{collector_version()}",
            ImageConfig(
                user=f"{UID}:{UID}",
                entrypoint=("/otelcol-vigil",),
                exposed_ports=(4317, 4318, 8888, 13133),
            ),
            ("/etc/ssl/certs/ca-certificates.crt", "/otelcol-vigil"),
        ),
        "operator": Image(
            "vigil-operator",
            f"ghcr.io/vigil-operator/vigil:{vigil_version()}",
            ImageConfig(
                user=f"{UID}:{UID}",
                entrypoint=("/usr/local/bin/vigil", "run"),
                env=(
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME=/tmp",
                    "PYTHONDONTWRITEBYTECODE=1",
                    "PYTHONUNBUFFERED=1",
                    "VIGIL_COLLECTOR_BINARY=/usr/local/bin/otelcol-vigil",
                ),
                workdir="/tmp",  # noqa: S108 - the emptyDir the chart mounts
                exposed_ports=(8080,),
            ),
            ("/", f"/{SITE}/", "/usr/local/bin/vigil", "/usr/local/bin/otelcol-vigil"),
        ),
        "pause": Image(
            "pause",
            f"localhost/vigil/pause:{PAUSE_VERSION}",
            ImageConfig(user=f"{PAUSE_UID}:{PAUSE_UID}", entrypoint=("/pause",)),
            ("/pause",),
        ),
    }


class BuildError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(msg, flush=True)


def cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "vigil" / "images"


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Serialise one cached build between checkouts on this machine."""
    path = cache_root() / f".{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"  waiting for another build holding {path}")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big") + p)
    return h.hexdigest()[:16]


def run(cmd: list[str], **kw: object) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return str(proc.stdout)


def is_static(binary: Path) -> bool:
    """True when the ELF file has no PT_INTERP program header (needs no dynamic loader)."""
    data = binary.read_bytes()[:65536]
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise BuildError(f"{binary}: not a 64-bit ELF file")
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    types = [int.from_bytes(data[phoff + i * phentsize : phoff + i * phentsize + 4], "little") for i in range(phnum)]
    return 3 not in types  # PT_INTERP


def tool(name: str) -> Path:
    path = TOOLS_BIN / name
    if not path.exists():
        raise BuildError(f"{path} is missing: run `make tools`")
    return path.resolve()


# --------------------------------------------------------------------------
# cached inputs


def debian_rootfs() -> Path:
    """The operator's Debian root file system as a tar, built by rootfs.sh once per script content."""
    key = digest(ROOTFS_SCRIPT.read_bytes(), os.uname().machine.encode())
    path = cache_root() / f"rootfs-{key}.tar"
    with locked("rootfs"):
        if path.is_file():
            log(f"  Debian root file system: cached {path}")
            return path
        if not shutil.which("mmdebstrap"):
            raise BuildError("mmdebstrap is missing: scripts/apt-install.sh mmdebstrap (make images runs it)")
        started = time.monotonic()
        log(f"  Debian root file system: building with {ROOTFS_SCRIPT.relative_to(ROOT)} (about a minute)")
        partial = path.with_suffix(".partial.tar")
        partial.unlink(missing_ok=True)
        run([str(ROOTFS_SCRIPT), str(partial)])
        partial.replace(path)
        log(f"  Debian root file system: built in {time.monotonic() - started:.0f}s -> {path}")
        return path


def runtime_requirements() -> list[str]:
    """``name==version`` for every package ``vigil-operator`` needs at run time, as installed in this venv."""
    seen: dict[str, str] = {}
    todo = ["vigil-operator"]
    while todo:
        name = todo.pop()
        dist = importlib.metadata.distribution(name)
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            key = re.sub(r"[-_.]+", "-", req.name).lower()
            if key not in seen:
                seen[key] = importlib.metadata.version(req.name)
                todo.append(req.name)
    return [f"{name}=={version}" for name, version in sorted(seen.items())]


def write_lock() -> None:
    header = (
        "# Runtime dependencies of the operator image, pinned as the venv resolved pyproject.toml's pins.\n"
        "# Generated by `python images/build.py --lock` (a tools-tier test fails when it drifts).\n"
    )
    REQUIREMENTS.write_text(header + "".join(f"{r}\n" for r in runtime_requirements()))
    log(f"wrote {REQUIREMENTS.relative_to(ROOT)}")


def pip_target(target: Path, *args: str) -> None:
    """``pip install --no-deps --target`` with this Python (the image's 3.11), then precompile."""
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-compile",
            "--target",
            str(target),
            *args,
        ]
    )
    shutil.rmtree(target / "bin", ignore_errors=True)  # scripts with this venv's interpreter path
    for direct_url in target.glob("*.dist-info/direct_url.json"):  # names a temporary path
        direct_url.unlink()
        record = direct_url.with_name("RECORD")
        lines = record.read_text().splitlines(keepends=True)
        record.write_text(
            "".join(line for line in lines if not line.startswith(f"{direct_url.parent.name}/direct_url.json,"))
        )
    # Hash-checked .pyc files: correct whatever mtime the layer gives the sources, and the
    # read-only root file system never needs a write.
    run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "1",
            "--invalidation-mode",
            "unchecked-hash",
            "-d",
            f"/{SITE}",
            str(target),
        ]
    )


def python_dependencies() -> Path:
    """The pinned runtime dependencies installed into a folder (cached per requirements file)."""
    if sys.version_info[:2] != (3, 11):
        raise BuildError(f"run with Python 3.11, the image's Python (this is {sys.version.split()[0]})")
    key = digest(REQUIREMENTS.read_bytes(), sys.version.encode())
    path = cache_root() / f"pydeps-{key}"
    with locked("pydeps"):
        if (path / ".complete").is_file():
            log(f"  Python dependencies: cached {path}")
            return path
        shutil.rmtree(path, ignore_errors=True)
        started = time.monotonic()
        pip_target(path, "--requirement", str(REQUIREMENTS))
        (path / ".complete").touch()
        log(f"  Python dependencies: installed in {time.monotonic() - started:.0f}s -> {path}")
        return path


def vigil_package(work: Path) -> Path:
    """The vigil wheel, built from a clean copy of the source and installed into a folder."""
    source = work / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__", "tests", "bench"),
    )
    wheels = work / "wheels"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ]
    )
    (wheel,) = wheels.glob("vigil_operator-*.whl")
    target = work / "site"
    pip_target(target, str(wheel))
    return target


def pause_binary() -> Path:
    """pause.c from the pinned k8s.io/kubernetes module, built with ``gcc -static`` (cached)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    version = re.search(r"^\s*k8s\.io/kubernetes\s+(v\S+)", KUBE_GOMOD.read_text(), re.M)
    if version is None:
        raise BuildError(f"{KUBE_GOMOD}: no k8s.io/kubernetes require")
    info = json.loads(
        run([go, "mod", "download", "-json", f"k8s.io/kubernetes@{version.group(1)}"], cwd="/", env=_go_env())
    )
    source = Path(info["Dir"]) / "build" / "pause" / "linux" / "pause.c"
    gcc = shutil.which("gcc")
    if gcc is None:
        raise BuildError("gcc is missing: scripts/apt-install.sh gcc libc6-dev")
    gcc_version = run([gcc, "--version"]).splitlines()[0]
    key = digest(source.read_bytes(), gcc_version.encode(), PAUSE_VERSION.encode())
    path = cache_root() / f"pause-{key}" / "pause"
    with locked("pause"):
        if path.is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        # The flags of upstream's build/pause/Makefile.
        run(
            [
                gcc,
                "-Os",
                "-Wall",
                "-Werror",
                "-static",
                f"-DVERSION=v{PAUSE_VERSION}-vigil",
                "-o",
                str(partial),
                str(source),
            ]
        )
        partial.replace(path)
        return path


def _go_env() -> dict[str, str]:
    return {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}


# --------------------------------------------------------------------------
# the images


def build_collector(image: Image, out: Path) -> str:
    binary = tool("otelcol-vigil")
    if not is_static(binary):
        raise BuildError(f"{binary} is dynamically linked; the image has no libc (build it with CGO_ENABLED=0)")
    certs = Layer("COPY ca-certificates.crt (Debian ca-certificates)")
    certs.add_file("etc/ssl/certs/ca-certificates.crt", Path("/etc/ssl/certs/ca-certificates.crt"), 0o644)
    collector = Layer("COPY otelcol-vigil (ocb, tools/otelcol/manifest.yaml)")
    collector.add_file("otelcol-vigil", binary, 0o755)
    return write_archive(image.archive(out), image.tag, [certs, collector], image.config)


LAUNCHER = f"""#!/usr/bin/{PYTHON}
import sys

from vigil.cli import main

sys.exit(main())
"""


def build_operator(image: Image, out: Path) -> str:
    rootfs = Layer("COPY Debian bookworm root file system (images/operator/rootfs.sh)")
    rootfs.add_tar(debian_rootfs())
    # Empty folders the runtime mounts over (the chart mounts an emptyDir at /tmp).
    rootfs.add_dir("tmp", 0o1777)
    rootfs.add_dir("run", 0o755)
    deps = Layer("COPY Python dependencies (images/operator/requirements.txt)")
    deps.add_tree(python_dependencies(), SITE)
    del deps.entries[f"{SITE}/.complete"]
    collector = Layer("COPY otelcol-vigil")
    collector.add_file("usr/local/bin/otelcol-vigil", tool("otelcol-vigil"), 0o755)
    with tempfile.TemporaryDirectory(prefix="vigil-image-") as tmp:
        vigil = Layer("COPY the vigil wheel")
        vigil.add_tree(vigil_package(Path(tmp)), SITE)
        vigil.add_bytes("usr/local/bin/vigil", LAUNCHER.encode(), 0o755)
        return write_archive(image.archive(out), image.tag, [rootfs, deps, collector, vigil], image.config)


def build_pause(image: Image, out: Path) -> str:
    layer = Layer("COPY pause (gcc -static build/pause/linux/pause.c)")
    layer.add_file("pause", pause_binary(), 0o755)
    return write_archive(image.archive(out), image.tag, [layer], image.config)


BUILDERS = {"collector": build_collector, "operator": build_operator, "pause": build_pause}


def build(names: list[str], out: Path = OUT) -> dict[str, str]:
    """Build the images ``names`` into ``out``; return their image IDs by name."""
    known = images()
    return {name: BUILDERS[name](known[name], out) for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", help=f"images to build: {', '.join(BUILDERS)} (default: all)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the archives (default: build/images)")
    parser.add_argument("--lock", action="store_true", help="rewrite images/operator/requirements.txt")
    args = parser.parse_args(argv)
    try:
        if args.lock:
            write_lock()
            return 0
        known = images()
        unknown = [n for n in args.images if n not in BUILDERS]
        if unknown:
            parser.error(f"unknown image(s) {', '.join(unknown)}; known: {', '.join(BUILDERS)}")
        for name in args.images or list(BUILDERS):
            started = time.monotonic()
            image = known[name]
            log(f"{image.tag}: building {image.archive(args.out)}")
            image_id = BUILDERS[name](image, args.out)
            size = image.archive(args.out).stat().st_size / 2**20
            log(f"{image.tag}: {image_id[:19]} {size:.0f} MiB in {time.monotonic() - started:.1f}s")
        return 0
    except BuildError as exc:
        print(f"images: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
