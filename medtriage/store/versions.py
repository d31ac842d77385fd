"""The published-version format: resolve `latest`, read and check a manifest, fetch and verify."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from medtriage.store.base import (
    LATEST_KEY,
    MANIFEST,
    ROOT,
    ArtifactError,
    ArtifactNotFound,
    ArtifactStore,
    atomic_write,
    check_key,
    check_version,
    writing,
)


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


def version_key(version: str, rel: str = "") -> str:
    return f"{ROOT}/{check_version(version)}/{rel}" if rel else f"{ROOT}/{version}/"


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
    elif not store.exists(version_key(check_version(version), MANIFEST)):
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
        raw = store.get_bytes(version_key(version, MANIFEST))
    except ArtifactNotFound:
        if store.list_keys(version_key(version)):
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
                store.get_file(version_key(version, rel), dest)
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
        atomic_write(tmp / MANIFEST, json.dumps(manifest, indent=2).encode())
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
