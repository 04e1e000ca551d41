"""A run's audit trail as it is made: every request the remediator sends on its behalf.

The run's client hands its ``/3/`` requests to the run's ``Audit`` directly. Token calls go
through the connector's OAuth client, which serves every run: ``audit_token_calls`` (the
connector-wide hook) puts each in the audit that is ``recording`` in the task that made it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from remediator.fortnox import RequestRecord
from remediator.report import Requests

_RECORDING: ContextVar[Audit | None] = ContextVar("remediator_audit", default=None)


class Audit:
    """Collects the requests of one run (the audit trail); never a token."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def __call__(self, record: RequestRecord) -> None:
        self.records.append(record)

    def counts(self) -> Requests:
        api = [r for r in self.records if r.kind == "api"]
        by_method = dict(sorted(Counter(r.method for r in api).items()))
        return Requests(
            by_method=by_method, token_calls=len(self.records) - len(api), total=len(self.records)
        )


@contextmanager
def recording(audit: Audit) -> Iterator[Audit]:
    """Token calls made in this task while the body runs land in ``audit``."""
    running = _RECORDING.set(audit)
    try:
        yield audit
    finally:
        _RECORDING.reset(running)


def audit_token_calls(record: RequestRecord) -> None:
    """A connector-wide hook: a token call lands in the audit recording in its task."""
    audit = _RECORDING.get()
    if audit is not None and record.kind == "token":
        audit(record)
