"""Every text a playbook gives people renders in both languages, with the run's values and
without them (``remediator explain``, an error naming no account): never a ``{``, never a
doubled word such as "account the account"."""

from __future__ import annotations

import re

import pytest

from remediator.playbook import DEFAULT_DIR, Playbook, load_playbooks, load_shared
from remediator.texts import LANGS, Lang, names, render

PLAYBOOKS = load_playbooks(DEFAULT_DIR)
SHARED = load_shared(DEFAULT_DIR)

# Values as a run has them, for every common placeholder and every group a shipped pattern has.
SAMPLE = {
    "series": "F",
    "account": "3001",
    "date": "2026-03-02",
    "year": "2026-01-01 – 2026-12-31",
    "restaurant": "Bistro Ljus",
    "reconnect_url": "https://remediator.example/v1/connections/bistro/authorize?sig=ab",
    "locked_until": "2026-03-31",
    "user": "Anna Ek <anna@example.se>",
    "cost_centre": "KS1",
    "project": "P7",
    "rows": "1",
    "difference": "100.00",
    "shared": "bistro-morker, bistro-sol",
}
_WORD = re.compile(r"[^\W\d_]+")
_CLAUSE = re.compile(r"[.;:,()<>\"→]")  # a menu path's steps are clauses of their own


def doubled(text: str) -> list[str]:
    """Words said twice within a clause: in a row ("the the"), or, for words of four letters
    or more, with one word between ("account the account")."""
    found = []
    for clause in _CLAUSE.split(text):
        words = [w.lower() for w in _WORD.findall(clause)]
        for i, word in enumerate(words):
            near = words[i + 1 : i + 3] if len(word) >= 4 else words[i + 1 : i + 2]
            if word in near:
                found.append(word)
    return found


def texts_of(playbook: Playbook, lang: Lang) -> list[str]:
    texts = playbook.texts
    return [
        getattr(playbook.title, lang),
        getattr(texts.meaning, lang),
        getattr(texts.remedy, lang),
        *getattr(texts.manual, lang),
        *(line for case in texts.cases.values() for line in getattr(case, lang)),
    ]


def shared_texts(lang: Lang) -> list[str]:
    return [line for case in SHARED.cases.values() for line in getattr(case, lang)]


def test_the_sample_knows_every_placeholder_a_playbook_uses() -> None:
    used = {name for p in PLAYBOOKS for name in p.placeholders_used()}
    used |= {name for lang in LANGS for text in shared_texts(lang) for name in names(text)}
    assert used <= set(SAMPLE), used - set(SAMPLE)


@pytest.mark.parametrize("values", [SAMPLE, {}], ids=["with values", "without values"])
@pytest.mark.parametrize("lang", LANGS)
def test_every_shared_text_renders_without_braces_or_doubled_words(
    values: dict[str, str], lang: Lang
) -> None:
    assert shared_texts(lang)
    for template in shared_texts(lang):
        rendered = render(template, values, lang)
        assert "{" not in rendered, rendered
        assert not doubled(rendered), (doubled(rendered), rendered)


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=[p.kind for p in PLAYBOOKS])
@pytest.mark.parametrize("values", [SAMPLE, {}], ids=["with values", "without values"])
@pytest.mark.parametrize("lang", LANGS)
def test_every_playbook_text_renders_without_braces_or_doubled_words(
    playbook: Playbook, values: dict[str, str], lang: Lang
) -> None:
    for template in texts_of(playbook, lang):
        rendered = render(template, values, lang)
        assert "{" not in rendered, rendered
        assert "}" not in rendered, rendered
        assert not doubled(rendered), (doubled(rendered), rendered)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("open account the account and tick", ["account"]),
        ("the the year", ["the"]),
        ("series (the export's) in the year", []),
        ("the one the error names", []),
        ("Konto 3001 är inte aktivt", []),
        ("open account (the one the error names) and tick Aktiv", []),
        ("i i Fortnox", ["i"]),
    ],
)
def test_doubled_words_are_found(text: str, found: list[str]) -> None:
    assert doubled(text) == found
