"""What an error message means, with no connection: its kind, parameters and texts.

Shared by ``remediator explain`` and the console's "Try an error". Explain knows no export:
the texts' language stand-ins fill what a run would (``remediator.texts``)."""

from __future__ import annotations

from typing import Any

from remediator.catalogue import Catalogue
from remediator.texts import LANGS, render

UNKNOWN = {"sv": "Felet känns inte igen.", "en": "The error is not recognised."}
NO_REMEDY = {
    "sv": "Ingen automatisk åtgärd; kontakta supporten.",
    "en": "No automatic remedy; contact support.",
}


def explain(
    catalogue: Catalogue, message: str, *, code: int | None = None, http_status: int | None = None
) -> dict[str, Any]:
    """The kind, how it was matched, its parameters, and the texts in both languages."""
    match = catalogue.classify(message, code=code, http_status=http_status)
    playbook = catalogue.playbook(match.kind)
    texts = playbook.texts if playbook else None
    values = dict(match.params)
    return {
        "kind": match.kind,
        "params": match.params,
        "matched_by": match.matched_by,
        "playbook": match.playbook,
        "auto_apply": playbook.auto_apply if playbook else False,
        "explanation": {
            lang: render(getattr(texts.meaning, lang), values, lang) if texts else UNKNOWN[lang]
            for lang in LANGS
        },
        "remedy": {
            lang: render(getattr(texts.remedy, lang), values, lang) if texts else NO_REMEDY[lang]
            for lang in LANGS
        },
        "manual_steps": {
            lang: [render(line, values, lang) for line in getattr(texts.manual, lang)]
            if texts
            else []
            for lang in LANGS
        },
    }
