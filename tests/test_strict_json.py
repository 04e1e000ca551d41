"""strict_json: what it refuses that the standard parser takes (a NUL character here; the
other limits are tested through intake, tests/service/test_hostile_input.py)."""

from __future__ import annotations

import pytest

from remediator import strict_json


@pytest.mark.parametrize(
    "text",
    ['{"a": "x\\u0000"}', '{"a\\u0000": 1}', '[["\\\\\\u0000"]]'],
    ids=["value", "key", "after-backslash"],
)
def test_a_nul_character_anywhere_is_refused(text: str) -> None:
    with pytest.raises(strict_json.InvalidJSON, match="NUL character"):
        strict_json.loads(text)


def test_the_six_characters_of_the_escape_as_text_are_taken() -> None:
    assert strict_json.loads('{"a": "\\\\u0000"}') == {"a": "\\u0000"}
