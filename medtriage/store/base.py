"""The artifact store interface, its errors, and the local-directory implementation."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

DEFAULT_STORE = "file://./.artifacts"
ROOT = "triage"
MANIFEST = "manifest.json"
LATEST_KEY = f"{ROOT}/LATEST"
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ArtifactError(Exception):
    """Something is wrong with the store or a published version; the message says what."""


class ArtifactNotFound(ArtifactError):
    """The requested key, version or file does not exist."""


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative POSIX key (no '..', no leading '/')."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ArtifactError(f"invalid artifact key {key!r}")
    return key


def check_version(version: str) -> str:
    if not _VERSION_RE.match(version or "") or version == "LATEST":
        raise ArtifactError(f"invalid version string {version!r}")
    return version


class ArtifactStore(ABC):
    """Keys are '/'-separated paths relative to the store's root."""

    uri: str

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Raise ArtifactNotFound if the key is missing."""

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None: ...

    @abstractmethod
    def get_file(self, key: str, path: Path) -> None:
        """Download `key` to `path`; raise ArtifactNotFound if missing."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """All keys starting with `prefix`, sorted."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn OSError (read-only, disk full, ...) into an ArtifactError naming the path."""
    try:
        yield
    except OSError as exc:
        raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}") from exc


def atomic_write(path: Path, data: bytes) -> None:
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            # mkstemp makes the file 0600: published files must be readable by any user who
            # can read the store (the service often runs as another user than the trainer).
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class LocalStore(ArtifactStore):
    """A directory; writes go through a temp file + rename so readers never see partial files."""

    def __init__(self, root: Path, uri: str | None = None) -> None:
        self.root = Path(root)
        self.uri = uri or f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        atomic_write(self._path(key), data)

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFound(f"{key} not found in {self.uri}") from None
        except OSError as exc:
            raise ArtifactError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        with writing(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".tmp-{target.name}.part")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)

    def get_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise ArtifactNotFound(f"{key} not found in {self.uri}")
        with writing(Path(path)):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return []
        keys = []
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> None:
        for key in self.list_keys(prefix):
            with writing(self.root / key):
                (self.root / key).unlink(missing_ok=True)
