"""S3 backend of the artifact store (boto3; honours AWS_ENDPOINT_URL for S3-protocol servers)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import boto3
from boto3.exceptions import Boto3Error
from botocore import exceptions as boto_errors
from botocore.config import Config

from medtriage.store.base import ArtifactError, ArtifactNotFound, ArtifactStore, check_key, writing

_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden"}


class S3Store(ArtifactStore):
    """`s3://BUCKET/PREFIX`: key K is stored as object PREFIX/K in BUCKET."""

    def __init__(self, uri: str, *, connect_timeout: float = 5.0, max_attempts: int = 3) -> None:
        rest = uri.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ArtifactError(f"invalid S3 store URI {uri!r}: expected s3://BUCKET/PREFIX")
        self.uri = uri
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=60,
            retries={"max_attempts": max_attempts, "mode": "standard"},
        )
        try:
            session = boto3.session.Session()
            # A region is needed to sign requests; S3-protocol servers accept any.
            region = session.region_name or "us-east-1"
            self.client = session.client("s3", region_name=region, config=config)
        except (boto_errors.BotoCoreError, Boto3Error) as exc:
            raise ArtifactError(f"cannot create an S3 client for {uri}: {exc}") from exc
        self.endpoint = self.client.meta.endpoint_url

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _strip(self, object_key: str) -> str:
        return object_key[len(self.prefix) + 1 :] if self.prefix else object_key

    @contextlib.contextmanager
    def _errors(self, action: str, key: str = "") -> Iterator[None]:
        """Translate boto3 failures into an ArtifactError that says what and where."""
        where = f"{self.uri} (endpoint {self.endpoint})"
        try:
            yield
        except boto_errors.ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            if code == "NoSuchBucket":
                raise ArtifactError(
                    f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}"
                ) from None
            if code in _MISSING_KEY:
                raise ArtifactNotFound(f"{key} not found in {where}") from None
            if code in _DENIED:
                raise ArtifactError(
                    f"access denied to {where} while trying to {action} {key}: check "
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                ) from None
            raise ArtifactError(
                f"S3 error {code} while trying to {action} {key} in {where}: {err.get('Message')}"
            ) from None
        except (boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError):
            raise ArtifactError(
                f"no AWS credentials for {where}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            ) from None
        except boto_errors.ConnectionError as exc:
            raise ArtifactError(
                f"cannot reach the S3 endpoint {self.endpoint} for {self.uri} ({action} {key}): "
                f"{exc}"
            ) from None
        except (boto_errors.BotoCoreError, Boto3Error) as exc:
            raise ArtifactError(
                f"S3 failure while trying to {action} {key} in {where}: {exc}"
            ) from None

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors("write", key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes:
        with self._errors("read", key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read()

    def put_file(self, key: str, path: Path) -> None:
        with self._errors("upload", key):
            self.client.upload_file(str(path), self.bucket, self._key(key))

    def get_file(self, key: str, path: Path) -> None:
        # get_object (not download_file): its errors tell a missing key from a missing bucket.
        path = Path(path)
        with self._errors("download", key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            with writing(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "wb") as f:
                    for chunk in body.iter_chunks(1 << 20):
                        f.write(chunk)

    def exists(self, key: str) -> bool:
        try:
            with self._errors("check", key):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ArtifactNotFound:
            return False
        return True

    def list_keys(self, prefix: str) -> list[str]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        keys: list[str] = []
        with self._errors("list", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full
            )
            for page in pages:
                keys.extend(self._strip(obj["Key"]) for obj in page.get("Contents", []))
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> None:
        keys = self.list_keys(prefix)
        with self._errors("delete", prefix):
            for i in range(0, len(keys), 1000):
                batch = [{"Key": self._key(k)} for k in keys[i : i + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
