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

from remediator.report import Outcome, Steps, Text

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


# -- checks ahead (remediator.ahead) --------------------------------------------------------
# The headline of a preflight's report, per outcome (remediator.outcome.summary): a preflight
# has no voucher, so it never says a day was booked or must be exported again.
AHEAD_HEADLINES: dict[Outcome, tuple[str, str]] = {
    Outcome.FIXED: ("Åtgärdat i förväg, före exporten", "Fixed ahead of the export"),
    Outcome.NOTHING_TO_FIX: ("Inget hinder för exporten", "Nothing stands in the export's way"),
    Outcome.WOULD_FIX: (
        "Kan åtgärdas i förväg (inget är ändrat ännu)",
        "Can be fixed ahead of the export (nothing changed yet)",
    ),
    Outcome.MANUAL_ACTION_REQUIRED: (
        "Exporten kommer att nekas om inte en person gör något",
        "The export will be refused unless a person acts",
    ),
    Outcome.FAILED: ("Förhandskontrollen misslyckades", "The check ahead failed"),
    Outcome.UNRECOGNIZED: ("Okänt hinder", "Unrecognised obstacle"),
}

# What the Backoffice is told with each event of a check ahead ({date}: the export's date).
AHEAD_EVENTS: dict[str, Text] = {
    "fixed_ahead": Text(
        sv=(
            "Fortnox var inte redo för exporten {date}; remediatorn har rättat det i förväg. "
            "Ingenting behöver göras."
        ),
        en=(
            "Fortnox was not ready for the export of {date}; the remediator fixed it ahead of time. "
            "Nothing needs doing."
        ),
    ),
    "awaiting_review": Text(
        sv=(
            "Fortnox är inte redo för exporten {date}. En rättelse är förberedd och väntar på att "
            "en person godkänner den."
        ),
        en=(
            "Fortnox is not ready for the export of {date}. A fix is prepared and waits for a "
            "person to approve it."
        ),
    ),
    "manual_action_required": Text(
        sv=(
            "Fortnox är inte redo för exporten {date}, och det kan inte rättas härifrån. Gör "
            "stegen nedan före {date}, annars nekas exporten."
        ),
        en=(
            "Fortnox is not ready for the export of {date}, and it cannot be fixed from here. Do "
            "the steps below before {date}, or the export will be refused."
        ),
    ),
    "failed": Text(
        sv=(
            "Förhandskontrollen inför exporten {date} kunde inte göras klart; den görs igen vid "
            "nästa körning."
        ),
        en=(
            "The check ahead of the export of {date} could not be completed; it is tried again at "
            "the next pass."
        ),
    ),
}
