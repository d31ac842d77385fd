"""A test signing key and a tiny JWKS server, standing in for the user service's token issuer.

    with JwksServer() as jwks:          # serves {"keys": [...]} on a free loopback port
        token = jwks.key.token(sub="42")  # a valid EdDSA access token
        jwks.url                          # base URL: set USERS_SERVICE_URL to it

The token format matches the user service: EdDSA (Ed25519) JWT with `kid`, claims iss, aud,
sub, exp, iat, jti, role, email.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

ISSUER = "medtriage-users"
AUDIENCE = "medtriage"


class SigningKey:
    """An Ed25519 key pair with a key id; signs access tokens like the user service does."""

    def __init__(self, kid: str | None = None):
        self.kid = kid or uuid.uuid4().hex[:16]
        self.private = Ed25519PrivateKey.generate()

    def jwk(self) -> dict:
        data = json.loads(OKPAlgorithm.to_jwk(self.private.public_key()))
        data.update(kid=self.kid, alg="EdDSA", use="sig")
        return data

    def claims(self, sub: str = "1", ttl: int = 900, **extra) -> dict:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "role": "user",
            "email": f"user{sub}@example.org",
        }
        claims.update(extra)
        return claims

    def token(self, sub: str = "1", ttl: int = 900, headers: dict | None = None, **extra) -> str:
        """A signed token; pass ttl<0 for an expired one, extra claims to override."""
        claims = {k: v for k, v in self.claims(sub, ttl, **extra).items() if v is not None}
        return jwt.encode(
            claims, self.private, algorithm="EdDSA", headers={"kid": self.kid, **(headers or {})}
        )


def unsigned_token(claims: dict, kid: str = "none") -> str:
    """An `alg: none` token (no signature), which a verifier must refuse."""

    def b64(obj: dict) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(claims)}."


class JwksServer:
    """Serve /.well-known/jwks.json for the given keys on 127.0.0.1 in a daemon thread."""

    def __init__(self, keys: list[SigningKey] | None = None):
        self.keys = keys or [SigningKey()]
        self.requests = 0
        self.available = True
        self.extra_jwks: list[dict] = []  # raw entries served after the keys' own
        self.openapi: dict | None = None  # also serve /openapi.json (a fake user service)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                if self.path == "/.well-known/jwks.json":
                    server.requests += 1
                if not server.available:
                    self.send_error(503)
                    return
                if self.path == "/.well-known/jwks.json":
                    keys = [k.jwk() for k in server.keys] + server.extra_jwks
                    body = json.dumps({"keys": keys}).encode()
                elif self.path == "/openapi.json" and server.openapi is not None:
                    body = json.dumps(server.openapi).encode()
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def key(self) -> SigningKey:
        return self.keys[0]

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
