"""Recognising an error: Fortnox code first, then OAuth errors, message patterns, fallback
codes and HTTP status; anything else is ``unrecognized``."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remediator.failure import ExportFailure
from remediator.fortnox import parse_error_body
from remediator.kinds import ErrorKind, Kind
from remediator.playbook import BilingualList, Playbook, Shared, load_playbooks, load_shared

_PREFIX = re.compile(r"^\s*(?:fel vid export\s*:\s*)+", re.IGNORECASE)
_QUOTES = str.maketrans(dict.fromkeys("“”„‟«»″", '"') | dict.fromkeys("‘’‚‛′", "'"))
_SINGLE_QUOTED = re.compile(r"'([^'\s][^']*)'")
_INSIDE_QUOTES = re.compile(r'"\s*([^"]*?)\s*"')
_SPACES = re.compile(r"\s+")


def normalise(message: str) -> str:
    """Lower case, one space, straight double quotes (also for 'x' and « x »), no
    "Fel vid export:" prefix, no final period."""
    text = _SINGLE_QUOTED.sub(r'"\1"', message.translate(_QUOTES))
    text = _PREFIX.sub("", _INSIDE_QUOTES.sub(r'"\1"', text))
    text = _SPACES.sub(" ", text).strip().lower()
    return text.rstrip(". ").strip()


@dataclass(frozen=True)
class Match:
    """What an error was recognised as, and how."""

    kind: Kind
    matched_by: str
    params: dict[str, str] = field(default_factory=dict)
    playbook: str | None = None


class Catalogue:
    """The playbooks, indexed for recognition."""

    def __init__(self, playbooks: list[Playbook], shared: Shared | None = None) -> None:
        self._by_kind = {p.kind: p for p in playbooks}
        self._shared = shared or Shared()
        self._patterns = [
            (p.kind, re.compile(rx)) for p in playbooks for rx in p.recognise.messages
        ]
        self._oauth_errors = [e.lower() for p in playbooks for e in p.recognise.oauth_errors]
        self._recent: OrderedDict[tuple[object, ...], Match] = OrderedDict()
        self._recent_lock = threading.Lock()

    def playbook(self, kind: Kind) -> Playbook | None:
        return self._by_kind.get(kind)

    def instructions(self, kind: Kind, case: str | None = None) -> BilingualList:
        """What a person does by hand: the kind's ``case``, else the shared ``case``, else the
        kind's ``manual``."""
        playbook = self._by_kind.get(kind)
        own = playbook.texts.cases if playbook else {}
        if case and case in own:
            return own[case]
        if case and case in self._shared.cases:
            return self._shared.cases[case]
        return playbook.texts.manual if playbook else BilingualList()

    def playbooks(self) -> list[Playbook]:
        return sorted(self._by_kind.values(), key=lambda p: p.kind)

    def classify_failure(self, failure: ExportFailure) -> Match:
        """``classify`` for a failure; the last few errors' answers are kept, as a failure is
        recognised at intake and again when it is worked."""
        error = failure.error
        key = _error_key(error.message, error.code, error.http_status, error.body)
        if key is not None:
            with self._recent_lock:
                found = self._recent.get(key)
                if found is not None:
                    self._recent.move_to_end(key)
            if found is not None:
                return _copy(found)
        match = self.classify(
            error.message, code=error.code, http_status=error.http_status, body=error.body
        )
        if key is not None:
            with self._recent_lock:
                self._recent[key] = _copy(match)
                if len(self._recent) > _RECENT_ERRORS:
                    self._recent.popitem(last=False)
        return match

    def classify(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        body: Any = None,
    ) -> Match:
        """Recognise an error from what the Backoffice knows about it."""
        said = parse_error_body(body)
        raw = body if isinstance(body, str) else ""  # a pasted text is a message too
        texts = [t for t in dict.fromkeys(map(normalise, (message, said.message, raw))) if t]
        code = code if code is not None else said.code
        oauth = (said.oauth_error or "").lower() or self._oauth_in(texts)
        for found in (
            self._by_code(code, texts, fallback=False),
            self._by_oauth(oauth, texts),
            self._by_message(texts),
            self._by_code(code, texts, fallback=True),
            self._by_status(http_status, texts),
        ):
            if found is not None:
                return found
        return Match(ErrorKind.UNRECOGNIZED.value, "none")

    def _match(self, kind: Kind, how: str, texts: list[str]) -> Match:
        return Match(kind, how, self._params(kind, texts), kind)

    def _params(self, kind: Kind, texts: list[str]) -> dict[str, str]:
        for pattern_kind, pattern in self._patterns:
            if pattern_kind != kind:
                continue
            for text in texts:
                found = pattern.search(text)
                if found:
                    return _clean(found.groupdict())
        return {}

    def _by_code(self, code: int | None, texts: list[str], *, fallback: bool) -> Match | None:
        if code is None:
            return None
        for playbook in self._by_kind.values():
            codes = playbook.recognise.fallback_codes if fallback else playbook.recognise.codes
            if code in codes:
                return self._match(playbook.kind, "fallback_code" if fallback else "code", texts)
        return None

    def _oauth_in(self, texts: list[str]) -> str | None:
        """An OAuth error a playbook knows, named in the text (a body pasted as the message)."""
        return next((e for e in self._oauth_errors for text in texts if e in text), None)

    def _by_oauth(self, oauth: str | None, texts: list[str]) -> Match | None:
        if oauth is None:
            return None
        for playbook in self._by_kind.values():
            if oauth in (e.lower() for e in playbook.recognise.oauth_errors):
                return self._match(playbook.kind, "oauth_error", texts)
        return None

    def _by_message(self, texts: list[str]) -> Match | None:
        for kind, pattern in self._patterns:
            for text in texts:
                found = pattern.search(text)
                if found:
                    return Match(kind, "message", _clean(found.groupdict()), kind)
        return None

    def _by_status(self, status: int | None, texts: list[str]) -> Match | None:
        if status is None:
            return None
        for playbook in self._by_kind.values():
            if status in playbook.recognise.http_statuses:
                return self._match(playbook.kind, "http_status", texts)
        return None


_RECENT_ERRORS = 256


def _error_key(
    message: str, code: int | None, http_status: int | None, body: Any
) -> tuple[object, ...] | None:
    """What recognition depends on, as a key; None when the body cannot be written as JSON."""
    if body is None:
        return (message, code, http_status, None)
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return (message, code, http_status, text)


def _copy(match: Match) -> Match:
    """A match of its own (``params`` is a dict a caller may change)."""
    return Match(match.kind, match.matched_by, dict(match.params), match.playbook)


def _clean(groups: dict[str, str | None]) -> dict[str, str]:
    """Named groups as params; ``series2`` and the like count as ``series``."""
    params: dict[str, str] = {}
    for name, value in groups.items():
        key = name.rstrip("0123456789")
        cleaned = (value or "").strip().strip('"').strip()
        if cleaned and key not in params:
            params[key] = cleaned.upper() if key == "series" else cleaned
    return params


def load_catalogue(directory: Path | None = None) -> Catalogue:
    return Catalogue(load_playbooks(directory), load_shared(directory))
