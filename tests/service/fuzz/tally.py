"""What the fuzzing sent and saw, summed over the session and printed at its end."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

SERVER_ERROR = 500


def examples(ci: int, long: int) -> int:
    """Examples per property: ``ci`` in the default run, ``long`` under ``make fuzz``."""
    return long if os.environ.get("REMEDIATOR_TEST_FUZZ") == "long" else ci


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: int = 0
    unsettled: int = 0

    def saw(self, status: int) -> None:
        self.statuses[status] += 1

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= SERVER_ERROR)

    def lines(self) -> list[str]:
        by_status = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        return [
            f"requests sent: {self.sent} ({by_status})",
            f"5xx answers: {self.server_errors}",
            f"failures accepted: {self.accepted}; runs left unsettled: {self.unsettled}",
        ]


TALLY = Tally()
