"""Access token format, JWKS, rejected tokens, key sources and rotation."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.secret_file import read_or_create_secret
from tests.users.conftest import bearer, sqlite_only
from user_management_service import create_app, db, keys


def claims_for(app, **overrides) -> dict:
    now = int(time.time())
    claims = {"iss": "medtriage-users", "aud": "medtriage", "sub": "x", "iat": now,
              "exp": now + 60, "jti": "j", "role": "user", "email": "a@b.org", "ver": 0}  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def current_key(app):
    return app.extensions["users_keys"].current()


def sign(app, claims, key=None, headers=None) -> str:
    key = key or current_key(app).private
    return jwt.encode(
        claims, key, algorithm="EdDSA", headers=headers or {"kid": current_key(app).kid}
    )


def verify_like_inference(client, token: str) -> dict:
    """What the inference service does: pick the key by kid from our JWKS, pin EdDSA."""
    jwks = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json)
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    return jwt.decode(
        token, key, algorithms=["EdDSA"], audience="medtriage", issuer="medtriage-users"
    )


def test_token_header_and_claims(api, client, app):
    token = api.user()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "JWT"
    assert header["kid"] == current_key(app).kid
    claims = verify_like_inference(client, token)
    me = client.get("/api/v1/users/me", headers=bearer(token)).json
    assert claims["sub"] == me["id"] and isinstance(claims["sub"], str)
    assert claims["iss"] == "medtriage-users" and claims["aud"] == "medtriage"
    assert claims["role"] == "user" and claims["email"] == "ada@example.org"
    assert claims["exp"] - claims["iat"] == app.config["TOKEN_TTL_SECONDS"]
    assert len(claims["jti"]) >= 16
    assert api.token() != token  # fresh jti each time


@sqlite_only
def test_jwks_shape(client):
    resp = client.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"].startswith("public")
    (key,) = resp.json["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}  # never "d"
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert len(base64.urlsafe_b64decode(key["x"] + "==")) == 32


@sqlite_only
@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda app: sign(app, claims_for(app, exp=int(time.time()) - 120)), "token_expired"),
        (lambda app: sign(app, claims_for(app), key=Ed25519PrivateKey.generate()), "invalid_token"),
        (lambda app: jwt.encode(claims_for(app), None, algorithm="none",
                                headers={"kid": current_key(app).kid}), "invalid_token"),
        (lambda app: jwt.encode(claims_for(app), "k" * 32, algorithm="HS256",
                                headers={"kid": current_key(app).kid}), "invalid_token"),
        (lambda app: sign(app, claims_for(app, aud="someone-else")), "invalid_token"),
        (lambda app: sign(app, claims_for(app, iss="evil")), "invalid_token"),
        (lambda app: sign(app, claims_for(app, jti=None)), "invalid_token"),
        (lambda app: sign(app, claims_for(app, exp=None)), "invalid_token"),
        (lambda app: sign(app, claims_for(app, iat=None)), "invalid_token"),
        (lambda app: sign(app, claims_for(app), headers={"kid": "unknown"}), "invalid_token"),
        (lambda app: sign(app, claims_for(app), headers={"typ": "JWT"}), "invalid_token"),
        (lambda app: sign(app, claims_for(app, sub="no-such-user")), "token_revoked"),
    ],
    ids=["expired", "forged", "alg-none", "hs256", "audience", "issuer", "no-jti", "no-exp",
         "no-iat", "unknown-kid", "no-kid", "unknown-sub"],
)  # fmt: skip
def test_rejected_tokens(app, client, make, code):
    resp = client.get("/api/v1/users/me", headers=bearer(make(app)))
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == code


@sqlite_only
def test_tampered_payload_is_rejected(api, client):
    token = api.user()
    head, payload, sig = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["role"] = "admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    resp = client.get("/api/v1/users/me", headers=bearer(f"{head}.{forged_payload}.{sig}"))
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "invalid_token"


@sqlite_only
def test_token_within_leeway_still_works(api, app, client):
    claims = jwt.decode(api.user(), options={"verify_signature": False})
    token = sign(app, claims_for(app, sub=claims["sub"], exp=int(time.time()) - 2))
    assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 200


@sqlite_only
def test_generated_key_is_private_and_stable(app_config, tmp_path):
    first = create_app(app_config)
    kid = current_key(first).kid
    key_file = tmp_path / "keys" / "current.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    again = create_app(app_config)
    assert current_key(again).kid == kid
    db.engine(first).dispose()
    db.engine(again).dispose()


def test_secret_creation_race_gives_one_value(tmp_path):
    path = tmp_path / "d" / "secret"
    results = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        results.append(read_or_create_secret(path, lambda: os.urandom(16)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret"]


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip


@sqlite_only
def test_key_from_configuration(app_config, tmp_path):
    current, previous = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    pem_file = tmp_path / "signing.pem"
    pem_file.write_text(_pem(current))
    app = create_app({**app_config, "SIGNING_KEY_FILE": str(pem_file),
                      "PREVIOUS_SIGNING_KEY": _pem(previous)})  # fmt: skip
    client = app.test_client()
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]]
    assert kids == [keys.thumbprint(current.public_key()), keys.thumbprint(previous.public_key())]
    assert not (tmp_path / "keys").exists()
    # A token signed by the previous key still verifies.
    old = jwt.encode(claims_for(app, sub="nobody"), previous, algorithm="EdDSA",
                     headers={"kid": kids[1]})  # fmt: skip
    assert client.get("/api/v1/users/me", headers=bearer(old)).json["error"]["code"] == (
        "token_revoked"  # signature fine, no such user
    )
    result = app.test_cli_runner().invoke(args=["users", "rotate-key"])
    assert result.exit_code != 0
    assert "USERS_PREVIOUS_SIGNING_KEY" in result.output
    db.engine(app).dispose()

    app2 = create_app({**app_config, "SIGNING_KEY": _pem(current)})
    assert current_key(app2).kid == kids[0]
    db.engine(app2).dispose()


@sqlite_only
@pytest.mark.parametrize(
    "bad", ["not a pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
)
def test_bad_configured_key_fails_at_start(app_config, bad):
    with pytest.raises(keys.KeyConfigError):
        create_app({**app_config, "SIGNING_KEY": bad})


def test_rotation_keeps_old_key_until_its_tokens_expire(api, app, client, runner, monkeypatch):
    old_token = api.user()
    old_kid = current_key(app).kid
    result = runner.invoke(args=["users", "rotate-key"])
    assert result.exit_code == 0, result.output
    new_kid = current_key(app).kid
    assert new_kid != old_kid and new_kid in result.output
    jwks = client.get("/.well-known/jwks.json").json
    assert [k["kid"] for k in jwks["keys"]] == [new_kid, old_kid]

    new_token = api.token()
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    for token in (old_token, new_token):
        assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 200
        verify_like_inference(client, token)

    # Once every token signed by the old key has expired, it is no longer published.
    later = time.time() + app.config["TOKEN_TTL_SECONDS"] + keys.RETIRE_GRACE_SECONDS + 1
    monkeypatch.setattr(keys.time, "time", lambda: later)
    jwks = client.get("/.well-known/jwks.json").json
    assert [k["kid"] for k in jwks["keys"]] == [new_kid]
    # A second rotation prunes the expired public key file.
    runner.invoke(args=["users", "rotate-key"])
    assert len(list(Path(app.config["KEY_DIR"]).glob("retired-*.pem"))) == 1


@sqlite_only
def test_rotation_by_another_process_is_picked_up(app_config):
    """`python -m user_management_service rotate-key` runs in its own process: workers follow."""
    worker = create_app(app_config)
    other = create_app(app_config)
    before = current_key(worker).kid
    with other.app_context():
        other.extensions["users_keys"].rotate()
    assert current_key(worker).kid != before
    assert current_key(worker).kid == current_key(other).kid
    db.engine(worker).dispose()
    db.engine(other).dispose()
