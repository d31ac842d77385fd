"""Ed25519 signing keys: from configuration, or generated once under KEY_DIR and rotated there.

Local layout of KEY_DIR (mode 0700, files 0600):
  current.pem                       private key that signs new tokens
  retired-<unix time>-<kid>.pem     public key of an earlier current key, published in the
                                    JWKS until every token it signed has expired
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from common.secret_file import read_or_create_secret, write_private

# Tokens signed just before a rotation stay verifiable this long past their expiry (clock skew).
RETIRE_GRACE_SECONDS = 60


@dataclass(frozen=True)
class SigningKey:
    kid: str
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None = None
    retired_at: float | None = None

    def jwk(self) -> dict:
        return {"kty": "OKP", "crv": "Ed25519", "x": _x(self.public), "kid": self.kid,
                "alg": "EdDSA", "use": "sig"}  # fmt: skip


class KeyConfigError(RuntimeError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _x(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64(raw)


def thumbprint(public: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: every worker derives the same kid from the key itself."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _x(public)}, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_pem(pem: bytes) -> SigningKey:
    """A private or public Ed25519 PEM as a SigningKey."""
    try:
        if b"PRIVATE KEY" in pem:
            private = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise KeyConfigError("signing key must be Ed25519")
            return SigningKey(thumbprint(private.public_key()), private.public_key(), private)
        public = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise KeyConfigError(f"cannot read signing key PEM: {exc}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise KeyConfigError("signing key must be Ed25519")
    return SigningKey(thumbprint(public), public)


class KeyStore:
    """The current signing key and the public keys still published in the JWKS."""

    def __init__(self, config: dict):
        self.ttl = int(config["TOKEN_TTL_SECONDS"])
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._keys: list[SigningKey] = []
        pem = config.get("SIGNING_KEY")
        if not pem and config.get("SIGNING_KEY_FILE"):
            pem = Path(config["SIGNING_KEY_FILE"]).read_text()
        if pem:
            self.key_dir = None
            current = load_pem(pem.encode())
            if current.private is None:
                raise KeyConfigError("USERS_SIGNING_KEY must be a private key")
            self._keys = [current]
            if config.get("PREVIOUS_SIGNING_KEY"):
                prev = load_pem(config["PREVIOUS_SIGNING_KEY"].encode())
                self._keys.append(SigningKey(prev.kid, prev.public, None, time.time()))
        else:
            self.key_dir = Path(config["KEY_DIR"])
            read_or_create_secret(self.key_dir / "current.pem", self._new_private_pem)
            self._reload()

    @staticmethod
    def _new_private_pem() -> bytes:
        return _private_pem(Ed25519PrivateKey.generate())

    def _reload(self) -> None:
        """Re-read KEY_DIR when it changed (another process rotated the key)."""
        if self.key_dir is None:
            return
        current_path = self.key_dir / "current.pem"
        stamp = (self.key_dir.stat().st_mtime_ns, current_path.stat().st_mtime_ns)
        if stamp == self._stamp:
            return
        with self._lock:
            keys = [load_pem(current_path.read_bytes())]
            for path in sorted(self.key_dir.glob("retired-*.pem"), reverse=True):
                retired_at = float(path.name.split("-")[1])
                key = load_pem(path.read_bytes())
                keys.append(SigningKey(key.kid, key.public, None, retired_at))
            self._keys, self._stamp = keys, stamp

    def current(self) -> SigningKey:
        self._reload()
        return self._keys[0]

    def published(self) -> list[SigningKey]:
        """Current key first, then retired keys whose tokens may still be unexpired."""
        self._reload()
        now = time.time()
        return [
            k
            for k in self._keys
            if k.retired_at is None
            or self.key_dir is None
            or k.retired_at + self.ttl + RETIRE_GRACE_SECONDS > now
        ]

    def find(self, kid: str) -> SigningKey | None:
        return next((k for k in self.published() if k.kid == kid), None)

    def jwks(self) -> dict:
        return {"keys": [k.jwk() for k in self.published()]}

    def rotate(self) -> SigningKey:
        """Make a new current key; keep the old public key published until its tokens expire."""
        if self.key_dir is None:
            raise KeyConfigError(
                "the signing key comes from configuration: set USERS_PREVIOUS_SIGNING_KEY to the "
                "old key and USERS_SIGNING_KEY to a new one, and redeploy"
            )
        with open(self.key_dir / ".rotate.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            old = load_pem((self.key_dir / "current.pem").read_bytes())
            now = time.time()
            retired = self.key_dir / f"retired-{now:.0f}-{old.kid}.pem"
            # Publish the old public key before the new key signs anything.
            write_private(retired, _public_pem(old.public))
            tmp = self.key_dir / f".current.{os.getpid()}.pem"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            write_private(tmp, self._new_private_pem())
            os.replace(tmp, self.key_dir / "current.pem")
            for path in self.key_dir.glob("retired-*.pem"):
                if float(path.name.split("-")[1]) + self.ttl + RETIRE_GRACE_SECONDS < now:
                    path.unlink()
        self._stamp = None
        return self.current()
