"""Schemathesis over a service's own /openapi.json, in-process (WSGI), bounded in examples.

Every operation is fuzzed with schema-valid (positive) and schema-violating (negative) data
through schemathesis's Python API; each response goes through its checks. What counts as a
failure: a 5xx, a status the operation does not document, a body or content type that does
not match the documented response, a documented header missing, invalid input accepted, or
an operation that answers without the token it requires.

Not checked: `positive_data_acceptance`. A JSON schema cannot say everything the services
refuse on purpose with a 400 (an email that is not an address, a common password, a question
of three spaces), so "schema-valid data must be accepted" does not hold by design.
"""

from __future__ import annotations

import collections
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as oas_checks

CHECKS = [
    schemathesis.checks.not_a_server_error,
    oas_checks.status_code_conformance,
    oas_checks.content_type_conformance,
    oas_checks.response_schema_conformance,
    oas_checks.response_headers_conformance,
    oas_checks.negative_data_rejection,
    oas_checks.ignored_auth,
]


@dataclass
class FuzzReport:
    calls: collections.Counter = field(default_factory=collections.Counter)
    statuses: collections.Counter = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def distinct_failures(self) -> list[str]:
        """One entry per (operation, failure titles, status), with the first reproduction."""
        seen, out = set(), []
        for text in self.failures:
            key = (
                text.split("\n", 1)[0],
                tuple(re.findall(r"- (ST\d+[^\n]*)", text)),
                tuple(re.findall(r"^\[(\d{3})\]", text, re.M)),
            )
            if key not in seen:
                seen.add(key)
                out.append(text[:1500])
        return out

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return f"{self.total} requests over {len(self.calls)} operations ({statuses})"


def fuzz(
    app,
    headers_for: Callable[[schemathesis.Case], dict],
    max_examples: int = 25,
    path_parameters: dict[str, list[dict]] | None = None,
) -> FuzzReport:
    """Fuzz every operation of the app's /openapi.json; headers_for(case) gives the auth.

    path_parameters maps an operation label to extra fixed path parameters to fuzz with too
    (so an operation on `/users/{id}` reaches a real record, not only 404s).
    """
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # Unknown query parameters are ignored by design (like any HTTP service): not a violation.
    schema.config.generation.update(allow_extra_parameters=False)
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        variants = [None, *(path_parameters or {}).get(operation.label, [])]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for fixed in variants:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
                _run(operation.label, strategy, headers_for, max_examples, report)
    return report


def _run(label, strategy, headers_for, max_examples, report: FuzzReport) -> None:
    @given(case=strategy)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples every run: a failure reproduces
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case):
        report.calls[label] += 1
        headers = headers_for(case)
        response = case.call(headers=headers)
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except BaseException as exc:  # schemathesis raises an exception group of failures
            report.failures.append(f"{label}\n{exc}")

    # Unsatisfiable: e.g. no invalid data exists for an operation without parameters.
    with contextlib.suppress(Unsatisfiable):
        one()
