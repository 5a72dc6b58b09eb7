"""Images of the monitoring stack prometheus-operator runs as pods in the e2e tier, for the local node.

The node pulls from no registry, so the images are made here, without a daemon: Prometheus and
prometheus-operator's config reloader from ``make tools`` (static; Debian's Prometheus is built
without Kubernetes service discovery, which every config prometheus-operator writes uses), and
Alertmanager from Debian's package, the one the other tiers run (linked against glibc only: the
image carries the loader, libc and the package's notification templates). They stand in for the upstream
images of the same versions (``upstream()``), which a cluster that reaches quay.io pulls instead.
Test-only: Vigil ships none of them.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from images.archive import ImageConfig, Layer, write_archive

from tests.harness.tools import require, version_of

NOBODY = "65534:65534"
"""The user the upstream images run as."""
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
AM_TEMPLATES = Path("/usr/share/prometheus/alertmanager")
"""Where Debian's Alertmanager reads its default notification templates from."""


@dataclass(frozen=True)
class MonitoringImages:
    """The image of each component, by role, and the version prometheus-operator is told it runs."""

    prometheus: str
    prometheus_version: str
    alertmanager: str
    alertmanager_version: str
    config_reloader: str


def upstream(prometheus_version: str, alertmanager_version: str, reloader_version: str) -> MonitoringImages:
    """The upstream images of these versions (for clusters that pull from quay.io)."""
    return MonitoringImages(
        f"quay.io/prometheus/prometheus:{prometheus_version}",
        prometheus_version,
        f"quay.io/prometheus/alertmanager:{alertmanager_version}",
        alertmanager_version,
        f"quay.io/prometheus-operator/prometheus-config-reloader:{reloader_version}",
    )


def shared_libraries(binary: Path) -> list[Path]:
    """The files the dynamic loader maps for ``binary`` (``ldd``), loader included."""
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False, timeout=30)
    if ldd.returncode != 0:  # static: "not a dynamic executable"
        return []
    found = []
    for line in ldd.stdout.splitlines():
        path = re.search(r"(/\S+) \(0x", line)
        if path:
            found.append(Path(path.group(1)))
    return found


def _binary_layer(description: str, binary: Path, at: str) -> Layer:
    layer = Layer(description)
    layer.add_file(at, binary, 0o755)
    for library in shared_libraries(binary):
        layer.add_file(str(library).lstrip("/"), library, 0o755)
    if CA_BUNDLE.is_file():
        layer.add_file(str(CA_BUNDLE).lstrip("/"), CA_BUNDLE, 0o644)
    layer.add_dir("tmp", 0o1777)
    return layer


def build_local(out: Path) -> tuple[MonitoringImages, list[Path]]:
    """Write the three images as docker-archives in ``out``; return their names and archives."""
    prometheus, reloader = require("prometheus-pod"), require("prometheus-config-reloader")
    alertmanager = Path("/usr/bin/prometheus-alertmanager")
    if not alertmanager.is_file():
        raise RuntimeError(f"{alertmanager} is missing: make system-deps installs it")
    am_layer = _binary_layer("COPY alertmanager (Debian)", alertmanager, "bin/alertmanager")
    for template in sorted(AM_TEMPLATES.glob("*.tmpl")):
        am_layer.add_file(str(template).lstrip("/"), template, 0o644)
    versions = version_of(prometheus), version_of(alertmanager), version_of(reloader)
    names = MonitoringImages(
        f"localhost/vigil-e2e/prometheus:{versions[0]}",
        versions[0],
        f"localhost/vigil-e2e/alertmanager:{versions[1]}",
        versions[1],
        f"localhost/vigil-e2e/prometheus-config-reloader:{versions[2]}",
    )
    built = [
        (
            names.prometheus,
            _binary_layer("COPY prometheus (make tools)", prometheus, "bin/prometheus"),
            "/bin/prometheus",
        ),
        (names.alertmanager, am_layer, "/bin/alertmanager"),
        (
            names.config_reloader,
            _binary_layer("COPY prometheus-config-reloader (make tools)", reloader, "bin/prometheus-config-reloader"),
            "/bin/prometheus-config-reloader",
        ),
    ]
    archives = []
    for tag, layer, entrypoint in built:
        archive = out / f"e2e-{tag.rsplit('/', 1)[1].split(':')[0]}.tar"
        write_archive(archive, tag, [layer], ImageConfig(user=NOBODY, entrypoint=(entrypoint,)))
        archives.append(archive)
    return names, archives
