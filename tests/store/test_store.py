"""Artifact store tests; `store` runs each test on file:// and on a real SeaweedFS S3 server."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path

import pytest

from medtriage.store import (
    ArtifactError,
    ArtifactNotFound,
    ArtifactStore,
    fetch_version,
    list_versions,
    new_version_id,
    open_store,
    resolve_version,
    sha256_file,
)
from testkit.net import free_ports
from training.publish import publish_version


class RecordingStore(ArtifactStore):
    """Delegates to another store and records every write and download, in order."""

    def __init__(self, inner: ArtifactStore) -> None:
        self.inner = inner
        self.uri = inner.uri
        self.puts: list[str] = []
        self.downloads: list[str] = []

    def put_bytes(self, key, data):
        self.puts.append(key)
        self.inner.put_bytes(key, data)

    def get_bytes(self, key):
        return self.inner.get_bytes(key)

    def put_file(self, key, path):
        self.puts.append(key)
        self.inner.put_file(key, path)

    def get_file(self, key, path):
        self.downloads.append(key)
        self.inner.get_file(key, path)

    def exists(self, key):
        return self.inner.exists(key)

    def list_keys(self, prefix):
        return self.inner.list_keys(prefix)

    def delete_prefix(self, prefix):
        self.inner.delete_prefix(prefix)


def make_model_dir(root: Path, tag: str = "v") -> Path:
    """A small fake artifact directory, with a nested file and a binary one."""
    root.mkdir(parents=True)
    (root / "model.keras").write_bytes(os.urandom(3000) + tag.encode())
    (root / "metrics.json").write_text(json.dumps({"accuracy": 0.9, "tag": tag}))
    (root / "index").mkdir()
    (root / "index" / "bm25.npz").write_bytes(b"\x00\x01" * 500)
    return root


def test_round_trip(store, tmp_path):
    store.put_bytes("a/b/c.txt", b"hello")
    assert store.get_bytes("a/b/c.txt") == b"hello"
    assert store.exists("a/b/c.txt")
    assert not store.exists("a/b/missing.txt")

    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(5000))
    store.put_file("a/file.bin", src)
    store.get_file("a/file.bin", tmp_path / "out" / "file.bin")
    assert (tmp_path / "out" / "file.bin").read_bytes() == src.read_bytes()

    store.put_bytes("other/x", b"1")
    assert store.list_keys("a/") == ["a/b/c.txt", "a/file.bin"]
    assert store.list_keys("a/b") == ["a/b/c.txt"]
    store.delete_prefix("a/")
    assert store.list_keys("a/") == []
    assert store.list_keys("other/") == ["other/x"]

    with pytest.raises(ArtifactNotFound, match="missing.txt"):
        store.get_bytes("a/b/missing.txt")
    with pytest.raises(ArtifactNotFound, match="missing.bin"):
        store.get_file("missing.bin", tmp_path / "m.bin")
    with pytest.raises(ArtifactError, match="invalid artifact key"):
        store.put_bytes("../escape", b"x")


def test_publish_then_fetch_verifies(store, tmp_path):
    src = make_model_dir(tmp_path / "model")
    manifest = publish_version(store, src, "v1", {"labels": ["a", "b"], "data_sha256": "ab"})
    assert manifest["version"] == "v1"
    assert manifest["labels"] == ["a", "b"]
    assert set(manifest["files"]) == {"model.keras", "metrics.json", "index/bm25.npz"}
    entry = manifest["files"]["model.keras"]
    assert entry == {"sha256": sha256_file(src / "model.keras"), "size": 3001}
    stored = json.loads(store.get_bytes("triage/v1/manifest.json"))
    assert stored == manifest
    assert store.get_bytes("triage/LATEST").decode() == "v1"

    local = fetch_version(store, "v1", tmp_path / "cache")
    assert local == tmp_path / "cache" / "v1"
    for rel in manifest["files"]:
        assert (local / rel).read_bytes() == (src / rel).read_bytes()
    assert json.loads((local / "manifest.json").read_text()) == manifest
    # No temp directories are left behind.
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["v1"]


def test_publish_refuses_to_overwrite_a_complete_version(store, tmp_path):
    src = make_model_dir(tmp_path / "model")
    publish_version(store, src, "v1", {})
    with pytest.raises(ArtifactError, match="already published"):
        publish_version(store, src, "v1", {})


def test_tampered_file_refused(store, tmp_path):
    publish_version(store, make_model_dir(tmp_path / "model"), "v1", {})
    store.put_bytes("triage/v1/index/bm25.npz", b"tampered")
    with pytest.raises(ArtifactError, match=r"checksum mismatch.*index/bm25\.npz"):
        fetch_version(store, "v1", tmp_path / "cache")
    assert not (tmp_path / "cache" / "v1").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []


def test_file_missing_from_store_refused(store, tmp_path):
    publish_version(store, make_model_dir(tmp_path / "model"), "v1", {})
    store.delete_prefix("triage/v1/metrics.json")
    with pytest.raises(ArtifactError, match="metrics.json"):
        fetch_version(store, "v1", tmp_path / "cache")


def test_half_published_refused(store, tmp_path):
    src = make_model_dir(tmp_path / "model")
    # Files uploaded, but the publisher died before manifest.json.
    for path in src.rglob("*"):
        if path.is_file():
            store.put_file(f"triage/v1/{path.relative_to(src).as_posix()}", path)
    with pytest.raises(ArtifactError, match="half-published"):
        fetch_version(store, "v1", tmp_path / "cache")
    with pytest.raises(ArtifactNotFound, match="not published"):
        resolve_version(store, "v1")


def test_latest_written_last(store, tmp_path):
    recording = RecordingStore(store)
    publish_version(recording, make_model_dir(tmp_path / "model"), "v1", {})
    assert recording.puts[-2:] == ["triage/v1/manifest.json", "triage/LATEST"]
    assert sorted(recording.puts[:-2]) == [
        "triage/v1/index/bm25.npz",
        "triage/v1/metrics.json",
        "triage/v1/model.keras",
    ]


def test_resolve_latest(store, tmp_path):
    with pytest.raises(ArtifactNotFound, match="no model published"):
        resolve_version(store)
    publish_version(store, make_model_dir(tmp_path / "m1", "1"), "v1", {})
    publish_version(store, make_model_dir(tmp_path / "m2", "2"), "v2", {})
    assert resolve_version(store) == "v2"
    assert resolve_version(store, "latest") == "v2"
    assert resolve_version(store, "v1") == "v1"
    with pytest.raises(ArtifactNotFound, match=r"v9 is not published.*v1, v2"):
        resolve_version(store, "v9")
    local = fetch_version(store, "latest", tmp_path / "cache")
    assert local.name == "v2"
    assert json.loads((local / "metrics.json").read_text())["tag"] == "2"


def test_list_versions_skips_half_published(store, tmp_path):
    assert list_versions(store) == []
    publish_version(store, make_model_dir(tmp_path / "m1"), "20260101T000000Z-aaaaaa", {})
    publish_version(store, make_model_dir(tmp_path / "m2"), "20250101T000000Z-bbbbbb", {})
    store.put_bytes("triage/20270101T000000Z-cccccc/model.keras", b"partial")
    assert list_versions(store) == ["20250101T000000Z-bbbbbb", "20260101T000000Z-aaaaaa"]


def test_cache_reuse(store, tmp_path):
    publish_version(store, make_model_dir(tmp_path / "model"), "v1", {})
    recording = RecordingStore(store)
    cache = tmp_path / "cache"
    fetch_version(recording, "v1", cache)
    assert len(recording.downloads) == 3

    recording.downloads.clear()
    assert fetch_version(recording, "v1", cache) == cache / "v1"
    assert recording.downloads == []

    # A locally corrupted file is fetched again; the good ones are reused.
    (cache / "v1" / "model.keras").write_bytes(b"bit rot")
    fetch_version(recording, "v1", cache)
    assert recording.downloads == ["triage/v1/model.keras"]
    assert sha256_file(cache / "v1" / "model.keras") == sha256_file(
        tmp_path / "model" / "model.keras"
    )


def test_cache_dir_not_writable(store, tmp_path):
    publish_version(store, make_model_dir(tmp_path / "model"), "v1", {})
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    with pytest.raises(ArtifactError, match="cannot write .*not-a-dir"):
        fetch_version(store, "v1", blocker / "cache")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_cache_dir(store, tmp_path):
    publish_version(store, make_model_dir(tmp_path / "model"), "v1", {})
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        with pytest.raises(ArtifactError, match=f"cannot write {re.escape(str(cache))}"):
            fetch_version(store, "v1", cache)
    finally:
        cache.chmod(0o755)


def test_unreachable_endpoint_fails_fast(monkeypatch):
    (port,) = free_ports(1)  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    store = open_store("s3://bucket/prefix", connect_timeout=1, max_attempts=1)
    start = time.monotonic()
    with pytest.raises(ArtifactError, match=f"cannot reach the S3 endpoint .*:{port}"):
        resolve_version(store)
    assert time.monotonic() - start < 5


def test_missing_bucket(s3_endpoint, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    store = open_store("s3://no-such-bucket/models")
    with pytest.raises(ArtifactError, match="bucket 'no-such-bucket' does not exist"):
        resolve_version(store)
    with pytest.raises(ArtifactError, match="bucket 'no-such-bucket' does not exist"):
        list_versions(store)


def test_open_store_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("ARTIFACT_STORE", raising=False)
    assert open_store().uri == "file://./.artifacts"
    monkeypatch.setenv("ARTIFACT_STORE", f"file://{tmp_path}")
    assert open_store().uri == f"file://{tmp_path}"
    assert open_store("s3://bucket/a/b/").prefix == "a/b"
    with pytest.raises(ArtifactError, match="unsupported"):
        open_store("ftp://host/x")


def test_new_version_id():
    version = new_version_id("1A2B3C" + "0" * 58)
    assert re.fullmatch(r"\d{8}T\d{6}Z-1a2b3c", version)
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", new_version_id("not hex"))


def test_published_files_readable_by_any_user(tmp_path):
    """The service often runs as another user than the trainer (containers: both uid 10001,
    but a mounted store or an operator's copy need not be): every published file, LATEST and
    the manifest included, is readable by others, and every directory can be entered."""
    store = open_store(f"file://{tmp_path / 'store'}")
    src = make_model_dir(tmp_path / "model")
    for path in src.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)  # the trainer's own files may be private
    old = os.umask(0o022)
    try:
        publish_version(store, src, "v1", {})
    finally:
        os.umask(old)
    published = list((tmp_path / "store").rglob("*"))
    names = {p.name for p in published}
    assert {"LATEST", "manifest.json", "model.keras", "bm25.npz"} <= names
    for path in published:
        mode = stat.S_IMODE(path.stat().st_mode)
        wanted = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)
        assert mode & wanted == wanted, f"{path.relative_to(tmp_path)}: {oct(mode)}"
