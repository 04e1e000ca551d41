"""JSON as the remediator takes it from outside: UTF-8, valid Unicode, finite numbers, and
nested no deeper than a limit that is checked before the text is parsed, and no string
holding a NUL character (PostgreSQL's text cannot hold one).

The standard parser reads bytes with ``surrogatepass`` (raw ``ED A0 80`` becomes a lone
surrogate), turns ``"\\ud800"`` into one too, reads ``NaN`` and ``1e999``, and recurses once per
level (a ``RecursionError`` at some depth, and pydantic's own JSON reader gives up at 200
levels), and takes ``"\\u0000"``, which PostgreSQL refuses to store. Text that passes ``loads`` has
none of that: it can be stored, answered and read back, on either database.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
_MAX_DIGITS = 20  # an integer of more digits than a 64-bit one is not a number here

# A JSON string, possessively (no backtracking): removed before brackets are counted.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_INNERMOST = re.compile(r"[\[{][\]}]")
_SURROGATE = "not JSON (a string holds a lone surrogate: not valid Unicode)"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_NUL = "not JSON the remediator can store (a string holds a NUL character, \\u0000)"
_NUL_ESCAPE = "\\u0000"  # or ``\\u0000`` as text: the strings parsed tell


class InvalidJSON(ValueError):
    """The text is not JSON the remediator accepts; ``problem`` says why, in ASCII."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether ``text`` nests containers deeper than ``limit``, found without parsing it.

    Strings are dropped, then each round removes the innermost bracket pairs: a text nested
    ``n`` deep is empty after ``n`` rounds. What is left after ``limit`` rounds is deeper, or
    brackets that do not match (which the parser refuses; ``limit`` unclosed ones are safe)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= limit:
        return False
    for _ in range(limit):
        brackets, removed = _INNERMOST.subn("", brackets)
        if not removed:
            break
    openers = brackets.count("[") + brackets.count("{")
    return openers > limit or _INNERMOST.search(brackets) is not None


def _constant(name: str) -> Any:
    raise InvalidJSON(f"not JSON ({name} is not a JSON number)")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise InvalidJSON(f"not JSON ({text[:20]}... is too large a number)")
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJSON(f"not JSON ({text[:20]} is too large a number)")
    return value


def _storable(value: Any) -> None:
    """Raise for a lone surrogate or a NUL character in any string or key (``value`` is at
    most MAX_DEPTH deep)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJSON(_SURROGATE) from None
        if "\x00" in value:
            raise InvalidJSON(_NUL)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    elif isinstance(value, list):
        for item in value:
            _storable(item)


# One decoder for every call: ``json.loads`` with these hooks would build a new one each time.
_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_finite, parse_int=_integer)


def _parsed(text: str) -> Any:
    """``json.loads(text)`` with the hooks above: the same value, or the same error."""
    if text.startswith("\ufeff"):  # json.loads refuses a byte order mark in text first
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def decode(data: bytes | str) -> str:
    """``data`` as text: bytes must be UTF-8 (a leading byte order mark is dropped)."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJSON(_SURROGATE) from None
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidJSON(f"not JSON (not UTF-8: invalid byte at position {err.start})") from None


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data``, or raise ``InvalidJSON``."""
    text = decode(data)
    if too_deep(text, max_depth):
        raise InvalidJSON(f"nested deeper than {max_depth} levels")
    try:
        value = _parsed(text)
    except InvalidJSON:
        raise
    except RecursionError:
        raise InvalidJSON(f"nested deeper than {max_depth} levels") from None
    except ValueError as err:
        raise InvalidJSON(f"not JSON ({err})") from None
    if _NUL_ESCAPE in text or _SURROGATE_ESCAPE.search(text):
        _storable(value)
    return value


__all__ = ["MAX_DEPTH", "InvalidJSON", "decode", "loads", "too_deep"]
