"""Fuzz both services' JSON APIs from their own /openapi.json with valid tokens (schemathesis).

No 5xx, no undocumented status, no response that breaks its documented schema, invalid input
refused, protected operations refused without a token. Bounded by MAX_EXAMPLES per operation
and generation mode, so each service takes well under a minute.
"""

from __future__ import annotations

import itertools

import pytest

from tests.reliability.conftest import register
from tests.reliability.fuzz import fuzz

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25


def test_fuzz_inference_api(inference_app, jwks):
    headers = {"Authorization": f"Bearer {jwks.key.token(sub='fuzzer', ttl=3600)}"}
    report = fuzz(inference_app, lambda case: headers, MAX_EXAMPLES)
    print(f"inference: {report.summary()}")
    assert report.distinct_failures() == []
    assert {"POST /api/v1/triage", "GET /api/v1/history", "DELETE /api/v1/history"} <= set(
        report.calls
    )
    assert report.statuses[200] > 0 and report.total >= 100


def test_fuzz_users_api(users_app):
    client = users_app.test_client()
    runner = users_app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create-admin", "admin@example.org", "--password", "fuzz admin passphrase"]
    )
    assert result.exit_code == 0, result.output
    admin = register(client, "admin@example.org", "fuzz admin passphrase")
    victim_id = client.post(
        "/api/v1/users", json={"email": "victim@example.org", "password": "victim passphrase 1"}
    ).get_json()["id"]
    fresh = itertools.count()

    def headers_for(case):
        # Deleting the account or changing its password revokes the caller's token: those
        # run as a throwaway account each time, everything else as the administrator.
        if case.operation.label in ("DELETE /api/v1/users/me", "POST /api/v1/users/me/password"):
            token = register(client, f"throwaway{next(fresh)}@example.org")
        else:
            token = admin
        return {"Authorization": f"Bearer {token}"}

    report = fuzz(
        users_app,
        headers_for,
        MAX_EXAMPLES,
        path_parameters={"PATCH /api/v1/users/{user_id}": [{"user_id": victim_id}]},
    )
    print(f"users: {report.summary()}")
    assert report.distinct_failures() == []
    assert report.statuses[200] > 0 and report.statuses[204] > 0 and report.total >= 200
    # The administrator is still there and still an administrator.
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {admin}"})
    assert me.status_code == 200 and me.get_json()["role"] == "admin"
