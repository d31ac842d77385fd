"""JWKS handling: keys cached, refetched on an unknown kid (rate-limited), rotation works."""

from __future__ import annotations

from testkit.jwks import JwksServer, SigningKey
from testkit.net import wait_for


def ask(client, token):
    return client.post(
        "/api/v1/triage",
        json={"question": "How is asthma treated?"},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_keys_are_cached(make_app):
    with JwksServer() as server:
        app = make_app(USERS_SERVICE_URL=server.url)
        assert wait_for(lambda: app.extensions["model"].ready)
        client = app.test_client()
        for _ in range(5):
            assert ask(client, server.key.token()).status_code == 200
        assert server.requests == 1


def test_rotation_refetches_on_unknown_kid_with_min_interval(make_app):
    with JwksServer() as server:
        app = make_app(USERS_SERVICE_URL=server.url, JWKS_MIN_REFETCH_SECONDS=3600)
        assert wait_for(lambda: app.extensions["model"].ready)
        client = app.test_client()
        assert ask(client, server.key.token()).status_code == 200
        assert server.requests == 1
        # Within the minimum interval, unknown key ids do not hit the user service again.
        for _ in range(5):
            assert ask(client, SigningKey().token()).status_code == 401
        assert server.requests == 1

    with JwksServer() as server:
        app = make_app(USERS_SERVICE_URL=server.url, JWKS_MIN_REFETCH_SECONDS=0)
        assert wait_for(lambda: app.extensions["model"].ready)
        client = app.test_client()
        assert ask(client, server.key.token()).status_code == 200
        new_key = SigningKey()
        server.keys.append(new_key)  # the user service rotates: a new kid appears
        assert ask(client, new_key.token()).status_code == 200
        assert server.requests == 2
        assert ask(client, server.keys[0].token()).status_code == 200  # old key still cached
        assert server.requests == 2


def test_user_service_down_without_cached_keys_is_503(make_app):
    with JwksServer() as server:
        server.available = False
        app = make_app(USERS_SERVICE_URL=server.url)
        assert wait_for(lambda: app.extensions["model"].ready)
        resp = ask(app.test_client(), server.key.token())
        assert resp.status_code == 503
        assert resp.get_json()["error"]["code"] == "auth_unavailable"
        # Missing or malformed tokens are still plain 401s: no key is needed to refuse them.
        assert ask(app.test_client(), "garbage").status_code == 401
        server.available = True
        assert ask(app.test_client(), server.key.token()).status_code == 200


def test_user_service_down_with_cached_keys_keeps_verifying(make_app):
    with JwksServer() as server:
        app = make_app(USERS_SERVICE_URL=server.url, JWKS_CACHE_SECONDS=0)
        assert wait_for(lambda: app.extensions["model"].ready)
        client = app.test_client()
        assert ask(client, server.key.token()).status_code == 200
        server.available = False
        assert ask(client, server.key.token()).status_code == 200  # stale but usable


def test_unusable_jwks_entries_are_ignored():
    from inference_service.auth import JwksCache

    with JwksServer() as server:
        good = server.key.jwk()
        server.extra_jwks = [
            {**good, "kid": "rsa", "kty": "RSA"},
            {**good, "kid": "x25519", "crv": "X25519"},
            {**good, "kid": "enc", "use": "enc"},
            {**good, "kid": "broken", "x": "!!"},
            {"kty": "OKP", "crv": "Ed25519", "x": good["x"]},  # no kid
        ]
        cache = JwksCache(server.url + "/.well-known/jwks.json", 60, 0, 2)
        assert cache.get(good["kid"]) is not None
        for kid in ("rsa", "x25519", "enc", "broken"):
            assert cache.get(kid) is None


def test_cached_token_still_expires(client, jwks, monkeypatch):
    import time

    from inference_service import auth

    token = jwks.key.token(sub="cached", ttl=60)
    assert ask(client, token).status_code == 200
    assert ask(client, token).status_code == 200  # from the cache
    later = time.time() + 120
    monkeypatch.setattr(auth.time, "time", lambda: later)
    resp = ask(client, token)
    assert resp.status_code == 401 and "expired" in resp.get_json()["error"]["message"]
