"""Exit 0 when STORE (file://DIR or s3://BUCKET/PREFIX) already holds triage/LATEST."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlparse


def published(store: str) -> bool:
    parsed = urlparse(store)
    if parsed.scheme == "file":
        return (Path(parsed.netloc + parsed.path) / "triage" / "LATEST").is_file()
    if parsed.scheme == "s3":
        import boto3
        from botocore.exceptions import ClientError

        key = "/".join(p for p in (parsed.path.strip("/"), "triage", "LATEST") if p)
        try:
            boto3.client("s3").head_object(Bucket=parsed.netloc, Key=key)
        except ClientError:
            return False
        return True
    raise ValueError(f"unsupported store {store!r}")


if __name__ == "__main__":
    sys.exit(0 if published(sys.argv[1]) else 1)
