"""Every answer of the sandbox checked against Fortnox's own OpenAPI schemas (and, for what the
spec does not cover, against the shapes REFERENCE.md documents).

How the spec is applied, and why:

Tightenings (so a check can fail at all; the spec leaves objects open):
- ``additionalProperties: false`` on every object: a key Fortnox does not define fails.
- Each envelope (``{"Account": ...}``, ``{"Accounts": [...]}``) must be present.
- An error answer must carry ``ErrorInformation`` with ``error``, ``message`` and ``code``.

Relaxations (each documented in shared/fortnox/REFERENCE.md):
- List answers may carry ``MetaInformation`` (``@TotalResources``, ``@TotalPages``,
  ``@CurrentPage``): Fortnox sends it on paged lists, the spec's list schemas omit it.
- ``ErrorInformation`` keys: the spec names them ``Error``/``Message``/``Code``, and Fortnox
  answers 404s so; its other refusals (400, 403, 500) come with ``error``/``message``/``code``.
  All three keys are required, in the case Fortnox uses for the status.
- ``LockedPeriod.EndDate`` may be ``null`` when nothing is locked (the spec says string).

The spec's ``required`` lists are kept as they are: no relaxation was needed.

Answers outside the spec: 401 ``{"message": "unauthorized"}`` (expired or unknown token), 429
with no body, 503 with an HTML page (a gateway), 404 ``{"message": "not found"}`` for a path
the sandbox does not serve, and the OAuth token endpoint's JSON.

Cost centres (``/3/costcenters``) are not in the subset: their answers are checked against the
shape Fortnox's API documentation gives (``COST_CENTRE`` below: ``Code``, ``Description``,
``Note``, ``Active``, optionally ``@url``; the list under ``CostCenters``), closed as above.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "fortnox-openapi-subset.json").read_text()
)
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]

META = {
    "type": "object",
    "properties": {
        "@TotalResources": {"type": "integer", "minimum": 0},
        "@TotalPages": {"type": "integer", "minimum": 1},
        "@CurrentPage": {"type": "integer", "minimum": 1},
    },
    "required": ["@TotalResources", "@TotalPages", "@CurrentPage"],
    "additionalProperties": False,
}
UNAUTHORIZED = {
    "type": "object",
    "properties": {"message": {"const": "unauthorized"}},
    "required": ["message"],
    "additionalProperties": False,
}
NOT_SERVED = {
    "type": "object",
    "properties": {"message": {"const": "not found"}},
    "required": ["message"],
    "additionalProperties": False,
}
TOKEN = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string", "pattern": r"^[\w-]+\.[\w-]+\.[\w-]*$"},
        "refresh_token": {"type": "string", "minLength": 16},
        "scope": {"type": "string"},
        "expires_in": {"const": 3600},
        "token_type": {"const": "bearer"},
    },
    "required": ["access_token", "scope", "expires_in", "token_type"],
    "additionalProperties": False,
}
OAUTH_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    "required": ["error", "error_description"],
    "additionalProperties": False,
}
REVOKED = {
    "type": "object",
    "properties": {"revoked": {"type": "boolean"}},
    "required": ["revoked"],
    "additionalProperties": False,
}


COST_CENTRE = {
    "type": "object",
    "properties": {
        "@url": {"type": "string"},
        "Code": {"type": "string", "minLength": 1},
        "Description": {"type": "string"},
        "Note": {"type": "string"},
        "Active": {"type": "boolean"},
    },
    "required": ["Code", "Description", "Active"],
    "additionalProperties": False,
}
COST_CENTRE_WRAP = {
    "type": "object",
    "properties": {"CostCenter": COST_CENTRE},
    "required": ["CostCenter"],
    "additionalProperties": False,
}
COST_CENTRE_LIST = {
    "type": "object",
    "properties": {"CostCenters": {"type": "array", "items": COST_CENTRE}, "MetaInformation": META},
    "required": ["CostCenters"],
    "additionalProperties": False,
}


def _outside_spec(path: str) -> dict[str, Any] | None:
    """The documented shape of an answer the subset lacks (cost centres), if it is one."""
    if re.fullmatch(r"/3/costcenters", path):
        return COST_CENTRE_LIST
    if re.fullmatch(r"/3/costcenters/[^/]+", path):
        return COST_CENTRE_WRAP
    return None


def _strict(schema: Any) -> Any:
    """``schema`` with every ``$ref`` inlined and every object closed."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _strict(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    out = {key: _strict(value) for key, value in schema.items()}
    if "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


@cache
def error_schema(status: int) -> dict[str, Any]:
    """An error answer: the spec's capitalised keys on a 404, lower case on other statuses."""
    schema: dict[str, Any] = copy.deepcopy(_strict(SCHEMAS["fortnox_ErrorInformationWrap"]))
    inner = schema["properties"]["ErrorInformation"]
    spec = inner["properties"] | {"Message": {"type": "string", "minLength": 1}}
    if status != 404:
        spec = {name.lower(): prop for name, prop in spec.items()}
    inner["properties"], inner["required"] = spec, sorted(spec)
    schema["required"] = ["ErrorInformation"]
    return schema


@cache
def wrap_schema(name: str) -> dict[str, Any]:
    """A spec wrap schema, strict, its envelope required, MetaInformation allowed on lists."""
    if name == "fortnox_ErrorInformationWrap":
        return error_schema(400)
    schema: dict[str, Any] = copy.deepcopy(_strict(SCHEMAS[name]))
    envelopes = list(schema["properties"])
    schema["required"] = envelopes
    if any(prop.get("type") == "array" for prop in schema["properties"].values()):
        schema["properties"]["MetaInformation"] = META
    if name == "fortnox_LockedPeriod_Wrap":
        schema["properties"]["LockedPeriod"]["properties"]["EndDate"] = {
            "anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]
        }
    return schema


def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")


# Literal paths first, so /3/vouchers/sublist never reads as a series called "sublist".
PATHS = sorted(SPEC["paths"], key=lambda p: (p.count("{"), p))
TEMPLATES = [(path, _template(path)) for path in PATHS]


def spec_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    """The schema the spec gives for this answer; ``None`` for a path the spec lacks."""
    for template, pattern in TEMPLATES:
        if pattern.match(path) and method.lower() in SPEC["paths"][template]:
            responses = SPEC["paths"][template][method.lower()]["responses"]
            found = responses.get(str(status)) or responses["default"]
            ref = found["content"]["application/json"]["schema"]["$ref"]
            return wrap_schema(ref.rsplit("/", 1)[1])
    return None


def validate(schema: dict[str, Any], body: Any) -> None:
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())


def check_answer(request: httpx.Request, response: httpx.Response) -> None:
    """Assert that one answer of the sandbox has the shape Fortnox gives it."""
    path, status = request.url.path, response.status_code
    if path.startswith("/3/"):
        _check_api(request.method, path, response)
    elif path == "/oauth-v1/token":
        schema = TOKEN if status == 200 else OAUTH_ERROR
        validate(schema, json.loads(response.content))
        if status != 200:
            assert response.headers["content-type"].startswith("text/html")
    elif path == "/oauth-v1/revoke":
        validate(REVOKED if status == 200 else OAUTH_ERROR, json.loads(response.content))


def _check_api(method: str, path: str, response: httpx.Response) -> None:
    status = response.status_code
    if status == 429:
        assert response.content == b""
        return
    if status == 503:
        assert response.headers["content-type"].startswith("text/html")
        return
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if status == 401:
        validate(UNAUTHORIZED, body)
        return
    schema = spec_schema(method, path, status) or _outside_spec(path)
    if schema is None:
        assert status == 404
        validate(NOT_SERVED, body)
        return
    if status >= 400:
        validate(error_schema(status), body)
        return
    validate(schema, body)


class CheckedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and checks every answer that passes through it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.checked = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        check_answer(request, response)
        self.checked += 1
        return response
