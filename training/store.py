"""Artifact store: versioned model artifacts under `triage/<version>/` in `file://` or `s3://`.

Layout (../shared/CONTRACTS.md section 3): every file of a version, then its `manifest.json`
(sha256 and size of each file), then `triage/LATEST`. A version without `manifest.json` is
half-published and never loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

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


def _atomic_write(path: Path, data: bytes) -> None:
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
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
        _atomic_write(self._path(key), data)

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


def open_store(
    uri: str | None = None, *, connect_timeout: float = 5.0, max_attempts: int = 3
) -> ArtifactStore:
    """Open `uri` (default: env ARTIFACT_STORE, else file://./.artifacts).

    `file://DIR` (relative or absolute) or `s3://BUCKET/PREFIX`; the timeouts only apply to S3.
    """
    uri = uri or os.environ.get("ARTIFACT_STORE") or DEFAULT_STORE
    if uri.startswith("s3://"):
        from training.store_s3 import S3Store

        return S3Store(uri, connect_timeout=connect_timeout, max_attempts=max_attempts)
    if uri.startswith("file://"):
        return LocalStore(Path(uri.removeprefix("file://")), uri)
    if "://" in uri:
        raise ArtifactError(
            f"unsupported artifact store {uri!r}: use file://DIR or s3://BUCKET/PREFIX"
        )
    return LocalStore(Path(uri), uri)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def new_version_id(data_sha256: str) -> str:
    """`<UTC time>-<6 hex of the training data's sha256>`, e.g. 20261122T203000Z-1a2b3c."""
    tag = data_sha256.lower()[:6]
    if not re.fullmatch(r"[0-9a-f]{6}", tag):
        tag = hashlib.sha256(data_sha256.encode()).hexdigest()[:6]
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{tag}"


def _version_key(version: str, rel: str = "") -> str:
    return f"{ROOT}/{check_version(version)}/{rel}" if rel else f"{ROOT}/{version}/"


def publish_version(
    store: ArtifactStore,
    local_dir: Path,
    version: str,
    manifest_extra: dict,
    progress: bool = False,
) -> dict:
    """Upload every file of `local_dir` to triage/<version>/, then manifest.json, then LATEST.

    Returns the manifest. Refuses to overwrite a version that is already complete.
    """
    local_dir = Path(local_dir)
    check_version(version)
    if not local_dir.is_dir():
        raise ArtifactError(f"cannot publish {version}: {local_dir} is not a directory")
    clash = {"version", "files"} & set(manifest_extra)
    if clash:
        raise ArtifactError(f"manifest_extra may not set {sorted(clash)}")
    files = sorted(p for p in local_dir.rglob("*") if p.is_file())
    rels = [p.relative_to(local_dir).as_posix() for p in files]
    if MANIFEST in rels:
        raise ArtifactError(f"{local_dir}/{MANIFEST} exists; publish_version writes the manifest")
    if not files:
        raise ArtifactError(f"cannot publish {version}: {local_dir} has no files")
    if store.exists(_version_key(version, MANIFEST)):
        raise ArtifactError(f"version {version} is already published in {store.uri}")

    entries: dict[str, dict] = {}
    total = sum(p.stat().st_size for p in files)
    with tqdm(
        total=total, unit="B", unit_scale=True, desc=f"publish {version}", disable=not progress
    ) as bar:
        for path, rel in zip(files, rels, strict=True):
            entries[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
            store.put_file(_version_key(version, rel), path)
            bar.update(entries[rel]["size"])
    manifest = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": entries,
        **manifest_extra,
    }
    store.put_bytes(_version_key(version, MANIFEST), json.dumps(manifest, indent=2).encode())
    # LATEST goes last: a reader following it always finds a complete version.
    store.put_bytes(LATEST_KEY, version.encode())
    return manifest


def resolve_version(store: ArtifactStore, version: str = "latest") -> str:
    """Turn "latest" (or empty) into the version in triage/LATEST; check an explicit one exists."""
    if not version or version.lower() == "latest":
        try:
            version = store.get_bytes(LATEST_KEY).decode().strip()
        except ArtifactNotFound:
            raise ArtifactNotFound(
                f"no model published in {store.uri} ({LATEST_KEY} is missing); "
                "run `python -m training train` first"
            ) from None
        check_version(version)
    elif not store.exists(_version_key(check_version(version), MANIFEST)):
        known = list_versions(store)
        raise ArtifactNotFound(
            f"version {version} is not published in {store.uri} "
            f"(complete versions: {', '.join(known) or 'none'})"
        )
    return version


def list_versions(store: ArtifactStore) -> list[str]:
    """Complete versions (those with manifest.json), sorted."""
    versions = []
    for key in store.list_keys(f"{ROOT}/"):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == MANIFEST:
            versions.append(parts[1])
    return sorted(versions)


def read_manifest(store: ArtifactStore, version: str) -> dict:
    """The manifest of a complete version; ArtifactError if it is missing or unreadable."""
    try:
        raw = store.get_bytes(_version_key(version, MANIFEST))
    except ArtifactNotFound:
        if store.list_keys(_version_key(version)):
            raise ArtifactError(
                f"version {version} in {store.uri} is half-published: it has files but no "
                f"{MANIFEST}; publish it again or pick another version"
            ) from None
        raise ArtifactNotFound(f"version {version} is not published in {store.uri}") from None
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        for rel, entry in files.items():
            check_key(rel)
            entry["sha256"], int(entry["size"])  # noqa: B018 - presence check
    except (ValueError, KeyError, TypeError, AttributeError, ArtifactError) as exc:
        raise ArtifactError(f"{MANIFEST} of version {version} is malformed: {exc}") from None
    return manifest


def _matches(path: Path, entry: dict) -> bool:
    try:
        return path.stat().st_size == entry["size"] and sha256_file(path) == entry["sha256"]
    except OSError:
        return False


def _verify_dir(directory: Path, manifest: dict) -> bool:
    return all(_matches(directory / rel, entry) for rel, entry in manifest["files"].items())


def fetch_version(store: ArtifactStore, version: str, cache_dir: Path) -> Path:
    """Download and verify triage/<version>/ into cache_dir/<version>/ and return that directory.

    Files already cached with the right sha256 are reused. The download goes to a temp dir that
    is renamed into place, so readers never see a partial directory.
    """
    version = resolve_version(store, version) if version.lower() == "latest" else version
    manifest = read_manifest(store, version)
    cache_dir = Path(cache_dir)
    target = cache_dir / check_version(version)
    if _verify_dir(target, manifest) and (target / MANIFEST).is_file():
        return target

    with writing(cache_dir):
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{version}.tmp-"))
    try:
        for rel, entry in manifest["files"].items():
            dest = tmp / rel
            with writing(dest):
                dest.parent.mkdir(parents=True, exist_ok=True)
                if _matches(target / rel, entry):
                    shutil.copy2(target / rel, dest)
                    continue
            try:
                store.get_file(_version_key(version, rel), dest)
            except ArtifactNotFound:
                raise ArtifactError(
                    f"version {version} in {store.uri} is incomplete: {rel} is listed in "
                    f"{MANIFEST} but missing"
                ) from None
            size, digest = dest.stat().st_size, sha256_file(dest)
            if size != entry["size"] or digest != entry["sha256"]:
                raise ArtifactError(
                    f"checksum mismatch in version {version}: {rel} has sha256 {digest[:12]}… "
                    f"({size} bytes), manifest says {entry['sha256'][:12]}… "
                    f"({entry['size']} bytes); refusing to load it"
                )
        _atomic_write(tmp / MANIFEST, json.dumps(manifest, indent=2).encode())
        _move_into_place(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _move_into_place(tmp: Path, target: Path) -> None:
    with writing(target):
        if target.exists():
            # A stale or corrupt copy: move it aside first (rename is atomic, rmtree is not).
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            os.replace(target, old / "v")
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished the same version first; keep its copy.
            if not target.is_dir():
                raise
