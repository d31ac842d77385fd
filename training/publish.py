"""Publishing a trained version: every file, then its manifest, then LATEST."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from medtriage.store import (
    LATEST_KEY,
    MANIFEST,
    ArtifactError,
    ArtifactStore,
    check_version,
    sha256_file,
    version_key,
)


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
    if store.exists(version_key(version, MANIFEST)):
        raise ArtifactError(f"version {version} is already published in {store.uri}")

    entries: dict[str, dict] = {}
    total = sum(p.stat().st_size for p in files)
    with tqdm(
        total=total, unit="B", unit_scale=True, desc=f"publish {version}", disable=not progress
    ) as bar:
        for path, rel in zip(files, rels, strict=True):
            entries[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
            store.put_file(version_key(version, rel), path)
            bar.update(entries[rel]["size"])
    manifest = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": entries,
        **manifest_extra,
    }
    store.put_bytes(version_key(version, MANIFEST), json.dumps(manifest, indent=2).encode())
    # LATEST goes last: a reader following it always finds a complete version.
    store.put_bytes(LATEST_KEY, version.encode())
    return manifest
