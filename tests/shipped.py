"""The kinds of the shipped playbook files: the tests ask the same coverage of each of them.

Derived from ``playbooks/`` rather than from ``ErrorKind``, so a kind added there as a YAML file
(docs/playbooks.md, walk-through 2) makes the coverage tests say what they still need.
"""

from __future__ import annotations

from remediator.kinds import ErrorKind
from remediator.playbook import DEFAULT_DIR, load_playbooks


def shipped_kinds(*, unrecognized: bool = True) -> list[str]:
    """The kinds of the shipped playbooks, sorted, with ``unrecognized`` unless told not to."""
    kinds = {playbook.kind for playbook in load_playbooks(DEFAULT_DIR)}
    if unrecognized:
        kinds.add(ErrorKind.UNRECOGNIZED.value)
    return sorted(kinds)
