"""The inference service believes X-Forwarded-* only from TRUSTED_PROXY_COUNT proxies (the
same common.web.init_proxy as the user service)."""

from __future__ import annotations

import pytest
from flask import jsonify, request


@pytest.mark.parametrize(
    ("count", "forwarded", "address", "scheme"),
    [
        (0, "203.0.113.9", "127.0.0.1", "http"),  # no proxy: the header is the client's claim
        (1, "203.0.113.9", "203.0.113.9", "https"),
        (1, "192.0.2.1, 203.0.113.9", "203.0.113.9", "https"),  # only our proxy's entry
        (2, "192.0.2.1, 203.0.113.9", "192.0.2.1", "http"),  # too few X-Forwarded-Proto
    ],
)
def test_client_address_and_scheme(make_app, count, forwarded, address, scheme):
    app = make_app(TRUSTED_PROXY_COUNT=count, MODEL_AUTOLOAD=False)
    app.add_url_rule(
        "/probe", "probe", lambda: jsonify([request.remote_addr, request.scheme, request.host])
    )
    headers = {
        "X-Forwarded-For": forwarded,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
    }
    body = app.test_client().get("/probe", headers=headers).get_json()
    assert body == [address, scheme, "localhost"]
