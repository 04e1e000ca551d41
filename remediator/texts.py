"""Rendering the texts for people that live in the playbooks (meaning, remedy, instructions).

The playbook YAML is the one home of what a person is told about a kind of error: what it
means, what the remediator does, and what a person must do by hand. Actions say what they
observed (a short summary per step) and give parameters; when a step needs a person, the
instructions are the playbook's, rendered here with the run's values. A placeholder whose value
is not known (``remediator explain`` knows no export; an error may name no account) is
rendered with a stand-in of its language, never left as ``{name}``.
"""

from __future__ import annotations

from string import Formatter
from typing import Literal

from remediator.report import Steps, Text

Lang = Literal["sv", "en"]
LANGS: tuple[Lang, ...] = ("sv", "en")

# Stand-ins read well after the noun a template puts before the placeholder ("konto {account}",
# "series {series}"), so none repeats it.
STAND_INS: dict[Lang, dict[str, str]] = {
    "sv": {
        "date": "exportdatumet",
        "series": "(exportens)",
        "account": "(det som felet anger)",
        "restaurant": "restaurangen",
        "reconnect_url": "kopplingslänken",
        "year": "(exportdatumets räkenskapsår)",
        "locked_until": "(slutet av den låsta perioden)",
        "user": "användaren som kopplade Fortnox",
        "cost_centre": "(det som felet anger)",
        "project": "(det som felet anger)",
        "rows": "(se rapporten)",
        "difference": "(se rapporten)",
        "shared": "(andra restauranger)",
    },
    "en": {
        "date": "the export date",
        "series": "(the export's)",
        "account": "(the one the error names)",
        "restaurant": "the restaurant",
        "reconnect_url": "the reconnect link",
        "year": "(the export date's financial year)",
        "locked_until": "(the end of the locked period)",
        "user": "the user who connected Fortnox",
        "cost_centre": "(the one the error names)",
        "project": "(the one the error names)",
        "rows": "(see the report)",
        "difference": "(see the report)",
        "shared": "(other restaurants)",
    },
}


def names(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def render(template: str, values: dict[str, str], lang: Lang) -> str:
    """``template`` with every placeholder filled: the value when known and not empty, else
    the language's stand-in, else the name in words (never a ``{``)."""
    stand_ins = STAND_INS[lang]
    filled = {
        name: values.get(name) or stand_ins.get(name) or name.replace("_", " ")
        for name in names(template)
    }
    return template.format_map(filled)


def render_text(sv: str, en: str, values: dict[str, str]) -> Text:
    return Text(sv=render(sv, values, "sv"), en=render(en, values, "en"))


def render_lines(sv: list[str], en: list[str], values: dict[str, str]) -> Steps:
    return Steps(
        sv=[render(line, values, "sv") for line in sv],
        en=[render(line, values, "en") for line in en],
    )
