"""Artifact store: versioned model artifacts under `triage/<version>/` in `file://` or `s3://`.

Layout (../shared/CONTRACTS.md section 3): every file of a version, then its `manifest.json`
(sha256 and size of each file), then `triage/LATEST`. A version without `manifest.json` is
half-published and never loaded. `base` holds the interface and the local store, `s3` the S3
one, `versions` the published-version format (resolve, verify, fetch).
"""

from __future__ import annotations

import os
from pathlib import Path

from medtriage.store.base import (
    DEFAULT_STORE,
    LATEST_KEY,
    MANIFEST,
    ROOT,
    ArtifactError,
    ArtifactNotFound,
    ArtifactStore,
    LocalStore,
    check_key,
    check_version,
    writing,
)
from medtriage.store.versions import (
    fetch_version,
    list_versions,
    new_version_id,
    read_manifest,
    resolve_version,
    sha256_file,
    version_key,
)

__all__ = [
    "DEFAULT_STORE",
    "LATEST_KEY",
    "MANIFEST",
    "ROOT",
    "ArtifactError",
    "ArtifactNotFound",
    "ArtifactStore",
    "LocalStore",
    "check_key",
    "check_version",
    "fetch_version",
    "list_versions",
    "new_version_id",
    "open_store",
    "read_manifest",
    "resolve_version",
    "sha256_file",
    "version_key",
    "writing",
]


def open_store(
    uri: str | None = None, *, connect_timeout: float = 5.0, max_attempts: int = 3
) -> ArtifactStore:
    """Open `uri` (default: env ARTIFACT_STORE, else file://./.artifacts).

    `file://DIR` (relative or absolute) or `s3://BUCKET/PREFIX`; the timeouts only apply to S3.
    """
    uri = uri or os.environ.get("ARTIFACT_STORE") or DEFAULT_STORE
    if uri.startswith("s3://"):
        from medtriage.store.s3 import S3Store

        return S3Store(uri, connect_timeout=connect_timeout, max_attempts=max_attempts)
    if uri.startswith("file://"):
        return LocalStore(Path(uri.removeprefix("file://")), uri)
    if "://" in uri:
        raise ArtifactError(
            f"unsupported artifact store {uri!r}: use file://DIR or s3://BUCKET/PREFIX"
        )
    return LocalStore(Path(uri), uri)
