"""Write container images as docker-archive tarballs, without a daemon (Python standard library only).

The archive is what `docker save` writes and what `docker load`, `ctr images import` and
`kind load image-archive` read: ``manifest.json`` naming a config blob and uncompressed layer
tars. Everything is deterministic: entries sorted by path, one fixed mtime, no user or group
names, and JSON with sorted keys, so the same inputs give the same bytes (and image ID).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# Every mtime in every layer, and the image's `created` (1970-01-01T00:00:00Z).
EPOCH = 0
CREATED = "1970-01-01T00:00:00Z"
# Kernel file systems and caches that never belong in an image.
SKIP_PREFIXES = ("dev/", "proc/", "sys/", "run/", "tmp/", "var/cache/apt/", "var/lib/apt/lists/", "var/log/")


def _norm(path: str) -> str:
    """An image path without leading ``/`` or ``./`` ("" is the root)."""
    while path.startswith(("./", "/")):
        path = path.removeprefix(".").lstrip("/")
    return "" if path in ("", ".") else str(PurePosixPath(path))


@dataclass
class _Entry:
    info: tarfile.TarInfo
    data: Callable[[], io.BufferedIOBase | io.BytesIO] | None = None


@dataclass
class Layer:
    """The files of one layer, added in any order and written sorted by path."""

    description: str
    entries: dict[str, _Entry] = field(default_factory=dict)

    def _info(self, path: str, kind: bytes, mode: int, uid: int, gid: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(_norm(path))
        info.type = kind
        info.mode = mode & 0o7777
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        info.mtime = EPOCH
        return info

    def _put(self, entry: _Entry) -> None:
        name = entry.info.name
        if not name:
            return
        parent = str(PurePosixPath(name).parent)
        if parent != "." and parent not in self.entries:
            self.add_dir(parent)
        self.entries[name] = entry

    def add_dir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        """A directory (parents are created as root-owned 0755 directories when missing)."""
        self._put(_Entry(self._info(path, tarfile.DIRTYPE, mode, uid, gid)))

    def add_bytes(self, path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        """A regular file with ``data``."""
        info = self._info(path, tarfile.REGTYPE, mode, uid, gid)
        info.size = len(data)
        self._put(_Entry(info, lambda: io.BytesIO(data)))

    def add_file(self, path: str, source: Path, mode: int | None = None, uid: int = 0, gid: int = 0) -> None:
        """A regular file copied from ``source`` (its mode unless ``mode`` is given)."""
        real = source.resolve()
        st = real.stat()
        info = self._info(path, tarfile.REGTYPE, st.st_mode if mode is None else mode, uid, gid)
        info.size = st.st_size
        self._put(_Entry(info, lambda: real.open("rb")))

    def add_symlink(self, path: str, target: str, uid: int = 0, gid: int = 0) -> None:
        info = self._info(path, tarfile.SYMTYPE, 0o777, uid, gid)
        info.linkname = target
        self._put(_Entry(info))

    def add_tree(self, source: Path, path: str, uid: int = 0, gid: int = 0) -> None:
        """Every file under host folder ``source`` at image folder ``path``, keeping modes and symlinks."""
        self.add_dir(path, uid=uid, gid=gid)
        for root, dirs, files in os.walk(source):
            dirs.sort()
            rel = Path(root).relative_to(source)
            for name in [*dirs, *sorted(files)]:
                host = Path(root) / name
                inside = f"{path}/{rel / name}" if str(rel) != "." else f"{path}/{name}"
                st = host.lstat()
                if stat.S_ISLNK(st.st_mode):
                    self.add_symlink(inside, os.readlink(host), uid, gid)
                elif stat.S_ISDIR(st.st_mode):
                    self.add_dir(inside, st.st_mode, uid, gid)
                elif stat.S_ISREG(st.st_mode):
                    self.add_file(inside, host, st.st_mode, uid, gid)

    def add_tar(self, source: Path, skip: tuple[str, ...] = SKIP_PREFIXES) -> None:
        """Every member of the tar ``source`` (a root file system), keeping owners, modes and links.

        Members under ``skip`` are left out (their folders stay, empty). Device nodes are left out:
        the runtime creates /dev.
        """
        tar = tarfile.open(source)  # noqa: SIM115 - read lazily by the entries, closed by the GC
        links: dict[str, list[str]] = {}
        for member in tar.getmembers():
            name = _norm(member.name)
            if not name or any((name + "/").startswith(p) and name + "/" != p for p in skip):
                continue
            if member.isdev() or member.isfifo():
                continue
            info = self._info(name, member.type, member.mode, member.uid, member.gid)
            if member.issym():
                info.linkname = member.linkname
                self._put(_Entry(info))
            elif member.islnk():
                links.setdefault(_norm(member.linkname), []).append(name)
            elif member.isdir():
                self._put(_Entry(info))
            else:
                info.size = member.size
                self._put(_Entry(info, _reader(tar, member)))
        # A hard link must follow its target in the archive: the first path in sorted order
        # carries the data, the others link to it.
        for target, names in links.items():
            if target not in self.entries:
                continue
            group = sorted([target, *names])
            first = self.entries[target]
            for name in group:
                info = self._info(name, first.info.type, first.info.mode, first.info.uid, first.info.gid)
                if name == group[0]:
                    info.size = first.info.size
                    self._put(_Entry(info, first.data))
                else:
                    info.type = tarfile.LNKTYPE
                    info.linkname = group[0]
                    self._put(_Entry(info))

    def paths(self) -> list[str]:
        """Every path in the layer, sorted (folders without a trailing slash)."""
        return sorted(self.entries)

    def write(self, out: io.BufferedIOBase) -> str:
        """Write the layer tar to ``out``; return its digest (``sha256:...``), the image's diff_id."""
        digest = hashlib.sha256()
        sink = _HashingWriter(out, digest)
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.GNU_FORMAT) as tar:  # type: ignore[call-overload]
            for name in sorted(self.entries):
                entry = self.entries[name]
                if entry.data is None:
                    tar.addfile(entry.info)
                    continue
                with entry.data() as fh:
                    tar.addfile(entry.info, fh)
        return f"sha256:{digest.hexdigest()}"


def _reader(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Callable[[], io.BufferedIOBase]:
    def read() -> io.BufferedIOBase:
        fh = tar.extractfile(member)
        if fh is None:
            raise OSError(f"{member.name}: no data in the source tar")
        return fh  # type: ignore[return-value]

    return read


class _HashingWriter(io.RawIOBase):
    def __init__(self, out: io.BufferedIOBase, digest: hashlib._Hash) -> None:
        self.out, self.digest = out, digest

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.out.write(data)
        return len(data)


@dataclass(frozen=True)
class ImageConfig:
    """What a Dockerfile's USER, ENTRYPOINT, CMD, ENV, WORKDIR, EXPOSE and LABEL set."""

    user: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    workdir: str = ""
    exposed_ports: tuple[int, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, object]:
        """The ``config`` object of the image configuration."""
        out: dict[str, object] = {}
        if self.user:
            out["User"] = self.user
        if self.entrypoint:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            out["Cmd"] = list(self.cmd)
        if self.env:
            out["Env"] = list(self.env)
        if self.workdir:
            out["WorkingDir"] = self.workdir
        if self.exposed_ports:
            out["ExposedPorts"] = {f"{p}/tcp": {} for p in sorted(self.exposed_ports)}
        if self.labels:
            out["Labels"] = dict(self.labels)
        return out


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_archive(out: Path, tag: str, layers: list[Layer], config: ImageConfig) -> str:
    """Write a docker-archive of ``layers`` tagged ``tag`` to ``out``; return the image ID (config digest)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".image-") as tmp:
        blobs: list[tuple[str, Path]] = []
        diff_ids = []
        for i, layer in enumerate(layers):
            path = Path(tmp) / f"layer{i}.tar"
            with path.open("wb") as fh:
                diff_id = layer.write(fh)  # type: ignore[arg-type]
            diff_ids.append(diff_id)
            blobs.append((f"blobs/sha256/{diff_id.removeprefix('sha256:')}", path))
        image_config = _dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "created": CREATED,
                "config": config.to_json(),
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created": CREATED, "created_by": layer.description} for layer in layers],
            }
        )
        config_digest = hashlib.sha256(image_config).hexdigest()
        config_name = f"blobs/sha256/{config_digest}"
        manifest = _dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [name for name, _ in blobs]}])
        repo, _, version = tag.rpartition(":")
        repositories = _dumps({repo: {version: config_digest}})
        partial = Path(tmp) / "image.tar"
        with tarfile.open(partial, "w", format=tarfile.GNU_FORMAT) as tar:
            for name in ("blobs", "blobs/sha256"):
                info = tarfile.TarInfo(name)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
                tar.addfile(info)
            files: list[tuple[str, bytes | Path]] = [(config_name, image_config), *blobs]
            files += [("manifest.json", manifest), ("repositories", repositories)]
            seen = set()
            for name, content in sorted(files, key=lambda f: f[0]):
                if name in seen:  # two identical layers share one blob
                    continue
                seen.add(name)
                info = tarfile.TarInfo(name)
                info.mode, info.mtime = 0o644, EPOCH
                if isinstance(content, Path):
                    info.size = content.stat().st_size
                    with content.open("rb") as fh:
                        tar.addfile(info, fh)
                else:
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
        shutil.move(partial, out)
    return f"sha256:{config_digest}"


@dataclass(frozen=True)
class Archive:
    """A docker-archive read back: its tag, configuration and layer tars."""

    tags: list[str]
    config: dict[str, object]
    layers: list[str]
    path: Path

    @classmethod
    def open(cls, path: Path) -> Archive:
        with tarfile.open(path) as tar:
            manifest = _read_json(tar, "manifest.json")
            (entry,) = manifest
            config = _read_json(tar, entry["Config"])
        return cls(list(entry["RepoTags"]), config, list(entry["Layers"]), path)

    def members(self) -> Iterator[tuple[int, tarfile.TarInfo]]:
        """(layer index, member) of every file in every layer, in order."""
        with tarfile.open(self.path) as outer:
            for i, name in enumerate(self.layers):
                fh = outer.extractfile(name)
                if fh is None:
                    raise OSError(f"{self.path}: layer {name} is missing")
                with tarfile.open(fileobj=fh) as layer:
                    for member in layer:
                        yield i, member

    def files(self) -> dict[str, tarfile.TarInfo]:
        """The image's file system after every layer: path -> member (later layers win)."""
        return {_norm(m.name): m for _, m in self.members()}

    def read(self, path: str) -> bytes:
        """The content of ``path`` in the image (the last layer that has it)."""
        found: bytes | None = None
        with tarfile.open(self.path) as outer:
            for name in self.layers:
                fh = outer.extractfile(name)
                assert fh is not None
                with tarfile.open(fileobj=fh) as layer:
                    for member in layer:
                        if _norm(member.name) == _norm(path) and member.isfile():
                            data = layer.extractfile(member)
                            assert data is not None
                            found = data.read()
        if found is None:
            raise FileNotFoundError(f"{path} is not in {self.path}")
        return found

    def extract(self, target: Path) -> None:
        """Unpack every layer into ``target`` (owners kept when run as root)."""
        with tarfile.open(self.path) as outer:
            for name in self.layers:
                fh = outer.extractfile(name)
                assert fh is not None
                with tarfile.open(fileobj=fh) as layer:
                    layer.extractall(target, numeric_owner=True, filter="fully_trusted")  # noqa: S202 - our own image


def _read_json(tar: tarfile.TarFile, name: str) -> dict[str, object] | list[dict[str, object]]:
    fh = tar.extractfile(name)
    if fh is None:
        raise OSError(f"{name} is missing from the archive")
    return json.loads(fh.read())  # type: ignore[no-any-return]
