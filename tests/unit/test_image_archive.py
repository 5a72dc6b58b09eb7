"""The daemonless image writer: deterministic layers a container runtime can unpack."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from images.archive import EPOCH, Archive, ImageConfig, Layer, write_archive


def _source_tar(path: Path) -> Path:
    """A root file system tar with a hard link listed before its target, a device and a cache."""
    with tarfile.open(path, "w") as tar:
        for name, kind in (
            ("./usr", tarfile.DIRTYPE),
            ("./usr/bin", tarfile.DIRTYPE),
            ("./var/cache/apt", tarfile.DIRTYPE),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = kind, 0o755, 123456
            tar.addfile(info)
        data = b"#!/bin/sh\n"
        real = tarfile.TarInfo("./usr/bin/zz-real")
        real.size, real.mode, real.uid, real.gid, real.uname = len(data), 0o755, 0, 42, "someone"
        tar.addfile(real, io.BytesIO(data))
        link = tarfile.TarInfo("./usr/bin/aa-link")
        link.type, link.linkname = tarfile.LNKTYPE, "./usr/bin/zz-real"
        tar.addfile(link)
        dev = tarfile.TarInfo("./dev/null")
        dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 3
        tar.addfile(dev)
        cache = tarfile.TarInfo("./var/cache/apt/pkgcache.bin")
        cache.size = 3
        tar.addfile(cache, io.BytesIO(b"abc"))
    return path


def _members(layer: Layer) -> list[tarfile.TarInfo]:
    out = io.BytesIO()
    layer.write(out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        return tar.getmembers()


def test_a_layer_is_sorted_with_fixed_times_and_no_owner_names(tmp_path: Path) -> None:
    layer = Layer("test")
    layer.add_bytes("b/file", b"x", 0o600, uid=10001, gid=10001)
    layer.add_bytes("a", b"y")
    members = _members(layer)
    assert [m.name for m in members] == ["a", "b", "b/file"]
    assert {m.mtime for m in members} == {EPOCH}
    assert {m.uname for m in members} == {""}
    assert members[2].uid == 10001
    assert members[2].mode == 0o600


def test_hard_links_follow_their_target_and_devices_and_caches_stay_out(tmp_path: Path) -> None:
    layer = Layer("rootfs")
    layer.add_tar(_source_tar(tmp_path / "root.tar"))
    members = {m.name: m for m in _members(layer)}
    assert members["usr/bin/aa-link"].isfile(), "the first path in sorted order carries the data"
    assert members["usr/bin/zz-real"].islnk()
    assert members["usr/bin/zz-real"].linkname == "usr/bin/aa-link"
    assert members["usr/bin/aa-link"].gid == 42
    assert "dev/null" not in members
    assert "var/cache/apt/pkgcache.bin" not in members
    assert "var/cache/apt" in members, "the folder stays, empty"


def test_the_same_inputs_give_the_same_archive(tmp_path: Path) -> None:
    config = ImageConfig(user="10001:10001", entrypoint=("/app",), exposed_ports=(8080,), env=("A=1",))
    ids = []
    for out in ("one.tar", "two.tar"):
        layer = Layer("app")
        layer.add_bytes("app", b"\x7fELF", 0o755)
        ids.append(write_archive(tmp_path / out, "example.test/app:1", [layer], config))
    assert ids[0] == ids[1]
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    archive = Archive.open(tmp_path / "one.tar")
    assert archive.tags == ["example.test/app:1"]
    assert archive.config["config"] == {
        "User": "10001:10001",
        "Entrypoint": ["/app"],
        "Env": ["A=1"],
        "ExposedPorts": {"8080/tcp": {}},
    }
    assert archive.read("app") == b"\x7fELF"
    with tarfile.open(tmp_path / "one.tar") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest[0]["Config"] == f"blobs/sha256/{ids[0].removeprefix('sha256:')}"
