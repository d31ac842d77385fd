"""A secret created once on first start and shared by every worker that reads the same file."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_or_create_secret(path: Path, make: Callable[[], bytes] | None = None) -> bytes:
    """Read `path`, or create it (0600) exactly once even when several workers race."""
    make = make or (lambda: secrets.token_bytes(32))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        write_private(tmp, make())
        try:
            os.link(tmp, path)  # atomic; fails if another worker got there first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()
