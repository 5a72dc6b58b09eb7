"""The images `make images` writes without a daemon, against their Dockerfiles and the real tools.

The Dockerfiles cannot be built here (no daemon, no registry), so their final stages are parsed
and compared with the archives: same user, entrypoint, command, ports, environment, working
folder and files. The archives' binaries and Python are then run from their own root file system.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from images import build
from images.archive import Archive

from tests.harness.tools import REQUIRE, ROOT, find, require
from tools import build_tools
from vigil import __version__
from vigil.render import components

DOCKERFILES = {"collector": ROOT / "images/collector/Dockerfile", "operator": ROOT / "images/operator/Dockerfile"}


@dataclass
class Stage:
    """What a Dockerfile's final stage sets, in the words of an image configuration."""

    user: str = ""
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    ports: list[int] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)


def final_stage(dockerfile: Path) -> Stage:
    """Parse the instructions after the last FROM (and every ARG) of ``dockerfile``."""
    text = re.sub(
        r"\\\n", " ", "\n".join(line for line in dockerfile.read_text().splitlines() if not line.startswith("#"))
    )
    stage = Stage()
    for line in text.splitlines():
        if not line.strip():
            continue
        word, _, rest = line.strip().partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "ARG":
            name, _, default = rest.partition("=")
            stage.args[name] = default
        elif word == "FROM":
            stage = Stage(args=stage.args)
        elif word == "USER":
            stage.user = rest
        elif word == "ENTRYPOINT":
            stage.entrypoint = json.loads(rest)
        elif word == "CMD":
            stage.cmd = json.loads(rest)
        elif word == "ENV":
            stage.env += shlex.split(rest)
        elif word == "WORKDIR":
            stage.workdir = rest
        elif word == "EXPOSE":
            stage.ports += [int(p.split("/")[0]) for p in rest.split()]
        elif word == "COPY":
            stage.copies.append(shlex.split(rest)[-1])
    return stage


def _need_mmdebstrap() -> None:
    if shutil.which("mmdebstrap") is None and not any(build.cache_root().glob("rootfs-*.tar")):
        reason = "mmdebstrap is not installed: run `scripts/apt-install.sh mmdebstrap` (make images does)"
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{reason} ({REQUIRE}=1 forbids skipping)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Archive]:
    """The three images, built now from this checkout into a temporary folder."""
    require("otelcol-vigil")
    _need_mmdebstrap()
    out = tmp_path_factory.mktemp("images")
    build.build(["collector", "operator", "pause"], out)
    return {name: Archive.open(image.archive(out)) for name, image in build.images().items()}


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_the_dockerfile_and_the_archive_agree(name: str, archives: dict[str, Archive]) -> None:
    stage = final_stage(DOCKERFILES[name])
    image = build.images()[name]
    config = archives[name].config["config"]
    assert isinstance(config, dict)
    assert archives[name].tags == [image.tag]
    assert stage.user == config.get("User", "")
    assert stage.entrypoint == config.get("Entrypoint", [])
    assert stage.cmd == config.get("Cmd", [])
    assert stage.env == config.get("Env", [])
    assert stage.workdir == config.get("WorkingDir", "")
    assert sorted(f"{p}/tcp" for p in stage.ports) == sorted(config.get("ExposedPorts", {}))
    assert stage.copies == list(image.copies)
    files = archives[name].files()
    for dest in stage.copies:
        assert dest.strip("/") in files or dest == "/", f"{dest} is copied by the Dockerfile but not in the archive"


def test_the_images_carry_the_versions_vigil_deploys() -> None:
    images = build.images()
    assert images["collector"].tag.endswith(
        ":" + next(t for t in build_tools.all_tools() if t.name == "otelcol-vigil").version
    )
    assert images["operator"].tag == f"ghcr.io/vigil-operator/vigil:{__version__}"
    # What stacks run unless they name an image: the collector built here.
    assert images["collector"].tag == components.DEFAULT_COLLECTOR_IMAGE
    assert final_stage(DOCKERFILES["collector"]).args["OCB_VERSION"] == build_tools.OCB_VERSION
    assert final_stage(DOCKERFILES["operator"]).args["COLLECTOR_IMAGE"] == images["collector"].tag


def _extract(archive: Archive, path: str, target: Path) -> Path:
    target.write_bytes(archive.read(path))
    target.chmod(0o755)
    return target


def test_the_collector_image_runs_the_built_collector_with_exactly_the_rendered_components(
    archives: dict[str, Archive], tmp_path: Path
) -> None:
    binary = _extract(archives["collector"], "otelcol-vigil", tmp_path / "otelcol-vigil")
    built = require("otelcol-vigil").resolve()
    assert hashlib.sha256(binary.read_bytes()).digest() == hashlib.sha256(built.read_bytes()).digest()
    assert build.is_static(binary), "the image has no libc: the collector must be static"
    out = subprocess.run([str(binary), "components"], capture_output=True, text=True, check=True, timeout=60).stdout
    listed = yaml.safe_load(out)
    types = {kind: {c["name"] for c in listed.get(kind) or []} for kind in components.ALL_TYPES}
    assert types == components.ALL_TYPES
    manifest = yaml.safe_load((ROOT / "tools/otelcol/manifest.yaml").read_text())
    assert {kind: len(manifest[kind]) for kind in components.ALL_TYPES} == {
        kind: len(names) for kind, names in components.ALL_TYPES.items()
    }
    files = archives["collector"].files()
    assert files["otelcol-vigil"].mode & 0o111
    certs = archives["collector"].read("etc/ssl/certs/ca-certificates.crt").decode()
    assert certs.count("BEGIN CERTIFICATE") > 100, "Debian's CA bundle is missing or empty"


def test_the_operator_image_carries_the_package_its_assets_and_the_collector(archives: dict[str, Archive]) -> None:
    files = archives["operator"].files()
    site = build.SITE
    for path in (f"{site}/vigil/cli.py", f"{site}/vigil/render/templates", "usr/bin/python3.11", "usr/local/bin/vigil"):
        assert path in files, f"{path} is not in the operator image"
    for folder in ("rules", "dashboards"):
        for source in (ROOT / folder).glob("*.*"):
            assert f"{site}/vigil/_assets/{folder}/{source.name}" in files, f"{folder}/{source.name} is not packaged"
    for requirement in build.REQUIREMENTS.read_text().split():
        if requirement.startswith("#") or "==" not in requirement:
            continue
        name, version = requirement.split("==")
        dist_info = re.sub(r"[-.]", "_", name)
        assert any(p.lower().startswith(f"{site}/{dist_info}-{version}.dist-info".lower()) for p in files), (
            f"{requirement} is not installed in the image"
        )
    collector = archives["operator"].read("usr/local/bin/otelcol-vigil")
    assert collector == require("otelcol-vigil").resolve().read_bytes()
    # Precompiled: a read-only root file system never needs a write to import vigil.
    assert f"{site}/vigil/__pycache__/cli.cpython-311.pyc" in files
    writable = [p for p, m in files.items() if m.isfile() and m.mode & 0o002]
    assert writable == [], f"world-writable files: {writable[:5]}"


def test_the_operator_image_pins_the_packages_the_venv_resolved() -> None:
    pinned = [line for line in build.REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")]
    assert pinned == build.runtime_requirements(), "run `python images/build.py --lock` and commit the result"


def _runc_bundle(archive: Archive, bundle: Path, args: list[str]) -> Path:
    """An OCI bundle: the image's root file system, read-only, its user and environment."""
    rootfs = bundle / "rootfs"
    archive.extract(rootfs)
    subprocess.run([str(find("runc")), "spec", "--bundle", str(bundle)], check=True, timeout=30)
    spec = json.loads((bundle / "config.json").read_text())
    image = archive.config["config"]
    assert isinstance(image, dict)
    uid, gid = (int(x) for x in image["User"].split(":"))
    spec["root"] = {"path": "rootfs", "readonly": True}
    spec["process"].update(
        terminal=False,
        args=args,
        env=image.get("Env", []),
        cwd=image.get("WorkingDir") or "/",
        user={"uid": uid, "gid": gid},
        capabilities={k: [] for k in ("bounding", "effective", "permitted", "ambient")},
        noNewPrivileges=True,
    )
    spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]})
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


@pytest.fixture
def runc() -> Path:
    path = find("runc")
    reason = ""
    if path is None:
        reason = "runc is not installed: run `scripts/apt-install.sh runc` (make cluster does)"
    elif os.geteuid() != 0:
        reason = "running a container with runc needs root"
    if reason:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{reason} ({REQUIRE}=1 forbids skipping)", pytrace=False)
        pytest.skip(reason)
    assert path is not None
    return path


def _run_container(runc: Path, bundle: Path, name: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(runc), "run", "--bundle", str(bundle), name], capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        subprocess.run([str(runc), "delete", "--force", name], capture_output=True, check=False, timeout=30)


def test_the_operator_image_starts_read_only_as_its_user(
    archives: dict[str, Archive], runc: Path, tmp_path: Path
) -> None:
    archive = archives["operator"]
    entrypoint = archive.config["config"]["Entrypoint"]  # type: ignore[index]
    name = f"vigil-image-test-{os.getpid()}"
    # The entrypoint's program, as `vigil --version` and `vigil crds` (every model imported).
    bundle = _runc_bundle(archive, tmp_path / "bundle", [entrypoint[0], "--version"])
    version = _run_container(runc, bundle, name)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"vigil {__version__}"
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = [entrypoint[0], "crds"]
    (bundle / "config.json").write_text(json.dumps(spec))
    crds = _run_container(runc, bundle, name)
    assert crds.returncode == 0, crds.stderr
    kinds = {d["spec"]["names"]["kind"] for d in yaml.safe_load_all(crds.stdout) if d}
    assert kinds == {"TelemetrySink", "MonitoringStack", "AlertPolicy"}
    spec["process"]["args"] = ["/usr/local/bin/otelcol-vigil", "--version"]
    (bundle / "config.json").write_text(json.dumps(spec))
    collector = _run_container(runc, bundle, name)
    assert collector.returncode == 0, collector.stderr
    assert "0.159.0" in collector.stdout


def test_the_images_are_reproducible(archives: dict[str, Archive], tmp_path: Path) -> None:
    again = build.build(["collector", "operator", "pause"], tmp_path)
    for name, image_id in again.items():
        first = archives[name].path.read_bytes()
        second = build.images()[name].archive(tmp_path).read_bytes()
        assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest(), f"{name} differs"
        assert image_id == "sha256:" + hashlib.sha256(_config_blob(archives[name])).hexdigest()


def _config_blob(archive: Archive) -> bytes:
    with tarfile.open(archive.path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        return tar.extractfile(manifest[0]["Config"]).read()  # type: ignore[union-attr]
