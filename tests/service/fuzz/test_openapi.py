"""Schemathesis against the service's own OpenAPI: every operation, with the api token and
without, in process. No answer is a 5xx, and every answer is one the schema documents (status,
content type, body)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from remediator import signing
from tests.service.conftest import AUTH, DIALECTS, INTAKE_SECRET, Harness, TestClient
from tests.service.fuzz.conftest import Served, served_on
from tests.service.fuzz.tally import TALLY, examples

# Every operation of the API: a new one fails test_every_operation_is_fuzzed until it is here.
OPERATIONS = [
    ("POST", "/v1/failures"),
    ("GET", "/v1/runs/{run_id}"),
    ("GET", "/v1/runs"),
    ("POST", "/v1/runs/{run_id}/apply"),
    ("POST", "/v1/runs/{run_id}/reject"),
    ("PUT", "/v1/connections/{connection_id}"),
    ("GET", "/v1/connections/{connection_id}"),
    ("POST", "/v1/connections/{connection_id}/access-token"),
    ("GET", "/v1/connections/{connection_id}/authorize"),
    ("GET", "/oauth/callback"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
]
# Not positive_data_acceptance: a request the schema allows may still be refused for what it
# means (an unknown run, a label missing on creation, a state that is not awaiting review).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=examples(ci=10, long=300),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", params=DIALECTS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with served_on(request.param, tmp_path_factory.mktemp("openapi"), workers=2) as both:
        yield both


@pytest.fixture(scope="module")
def schema(served: tuple[Harness, TestClient]) -> Any:
    _, client = served
    return schemathesis.openapi.from_dict(client.get("/openapi.json").json())


def test_every_operation_is_fuzzed(schema: Any) -> None:
    found = [
        (operation.method.upper(), operation.path)
        for operation in (result.ok() for result in schema.get_all_operations())
    ]
    assert sorted(found) == sorted(OPERATIONS)


def _body(case: Any) -> bytes | None:
    if case.body is NOT_SET:
        return None
    if isinstance(case.body, bytes):  # negative cases: bytes of another media type
        return case.body
    return json.dumps(case.body).encode()


def _send(client: TestClient, case: Any, headers: dict[str, str]) -> httpx.Response:
    """The case as the client sends it; intake bodies are signed (also without the token)."""
    raw = _body(case)
    sent = {k: str(v) for k, v in (case.headers or {}).items()} | headers
    if raw is not None:
        sent["Content-Type"] = case.media_type or "application/json"
    if case.path == "/v1/failures" and raw is not None:
        sent[signing.HEADER] = signing.sign(raw, INTAKE_SECRET)
    try:
        answer: httpx.Response = client.request(
            case.method,
            case.formatted_path,
            params=case.query or None,
            headers=sent,
            content=raw,
            follow_redirects=False,
        )
    except Exception:  # the test client raises what the app did not answer: a 500
        TALLY.saw(500)
        raise
    TALLY.saw(answer.status_code)
    return answer


# Negative cases (values the schema does not allow) for every operation that takes any.
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or path not in {"/healthz", "/metrics"}
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {g}" for m, p, g in CASES]
)
@pytest.mark.parametrize("auth", [True, False], ids=["token", "no-token"])
def test_an_operation_answers_as_documented_and_never_5xx(  # noqa: PLR0917 - parametrized
    served: tuple[Harness, TestClient],
    schema: Any,
    method: str,
    path: str,
    auth: bool,
    mode: GenerationMode,
) -> None:
    _, client = served
    operation = schema[path][method]
    headers = AUTH if auth else {}

    @FUZZ
    @given(case=operation.as_strategy(mode))
    def checked(case: Any) -> None:
        answer = _send(client, case, headers)
        case.validate_response(answer, checks=CHECKS)

    checked()
