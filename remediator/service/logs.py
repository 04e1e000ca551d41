"""JSON-lines logs: one object per line with the run, event and connection ids; no secrets.

``configure`` installs the formatter on the root logger (``remediator serve`` calls it). Code
logs with ``log.info("...", extra=ids(run_id=..., event_id=..., connection_id=...))``; a route
that has ids for its request's one line (``RequestLog``) leaves them with ``note``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

FIELDS = (
    "run_id",
    "event_id",
    "connection_id",
    "state",
    "outcome",
    "kind",
    "method",
    "path",
    "status",
    "duration_ms",
    "request_id",
    "job",
    "slot",
)
_SCRUB = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 <hidden>"),
    (
        re.compile(r"(?i)\b(code|state|token|access_token|refresh_token|secret|sig)=[^&\s\"']+"),
        r"\1=<hidden>",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "<jwt hidden>"),
]


# Whatever any of _SCRUB replaces contains one of these (case aside): text without them is
# answered as it is, with one search instead of a substitution per pattern.
_MAY_HIDE = re.compile(r"(?i)bearer|basic|=|eyJ")


def scrub(text: str) -> str:
    """``text`` with anything shaped like a token, code or credential replaced."""
    if not _MAY_HIDE.search(text):
        return text
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def ids(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call: only the known fields, never anything else."""
    return {key: value for key, value in values.items() if key in FIELDS and value is not None}


# Where ``note`` leaves a request's ids: in the ASGI scope's ``state``, a dict that every copy of
# the scope on the way to the route shares (``RequestLog`` makes sure there is one).
_NOTED = "remediator.log_ids"


def note(scope: MutableMapping[str, Any], **values: Any) -> None:
    """Log ``values`` (``ids``' fields) on the line ``RequestLog`` writes for this request."""
    scope.setdefault("state", {})[_NOTED] = ids(**values)


def noted(scope: MutableMapping[str, Any]) -> dict[str, Any]:
    """What the route left with ``note`` for the request of ``scope``, if anything."""
    found: dict[str, Any] = scope.get("state", {}).get(_NOTED, {})
    return found


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = scrub(str(value)) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {scrub(str(record.exc_info[1]))}"
        return json.dumps(entry, ensure_ascii=False)


def configure(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the app logs requests, without queries
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines carry full URLs
