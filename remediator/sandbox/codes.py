"""The Fortnox codes and texts the sandbox answers with.

[REF] marks codes and texts documented in shared/fortnox/REFERENCE.md; [OWN] marks the
sandbox's own choice where REFERENCE.md gives a text but no code (or a text of low confidence).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Refusal:
    status: int
    code: int
    message: str

    def body(self) -> dict[str, Any]:
        """The ErrorInformation answer in the key case Fortnox uses for the status: 404s come
        with ``Error``/``Message``/``Code``, other refusals with lower-case keys."""
        keys = (
            ("Error", "Message", "Code")
            if self.status == NOT_FOUND
            else ("error", "message", "code")
        )
        return {"ErrorInformation": dict(zip(keys, (1, self.message, self.code), strict=True))}


NOT_FOUND = 404


def refusal(status: int, code: int, message: str) -> Refusal:
    return Refusal(status, code, message)


MISSING_SCOPE = refusal(403, 2000663, "Har inte behörighet för scope")  # [REF]
NO_LICENCE = refusal(400, 2001101, "Det finns ingen aktiv licens för önskat scope")  # [REF]
NO_API_LICENCE = refusal(400, 2001103, "Api-licens saknas.")  # [REF]
MAY_NOT_BOOK = refusal(
    403, 2002455, "Saknar behörighet för att bokföra verifikationer"
)  # [REF] code [L]
NO_FINANCIAL_YEAR = refusal(400, 2000930, "Räkenskapsår saknas för valt datum")  # [OWN] code
DATE_OUTSIDE_YEAR = refusal(
    400, 2000931, "Verifikationsdatum ligger utanför angivet räkenskapsår"
)  # [OWN]
SERIES_MISSING = refusal(400, 2001939, "Ogiltig verifikationsserie angiven")  # [REF] [L-M]
ACCOUNT_INVALID = refusal(400, 2001265, "Ogiltigt konto")  # [REF] code (spec), text [OWN]
ACCOUNT_NOT_FOUND = refusal(400, 2001304, "Kunde inte hitta konto")  # [REF]
ACCOUNT_UNKNOWN_GET = refusal(404, 2000423, "Kan inte hitta kontot.")  # [REF]
SERIES_UNKNOWN_GET = refusal(404, 2000563, "Kan inte hitta verifikationsserien.")  # [OWN]
VOUCHER_UNKNOWN_GET = refusal(404, 2000564, "Kan inte hitta verifikationen.")  # [OWN]
YEAR_UNKNOWN_GET = refusal(404, 2000565, "Kan inte hitta räkenskapsåret.")  # [OWN]
UNBALANCED = refusal(400, 2000722, "verifikation balanserar ej")  # [OWN] code
MALFORMED_JSON = refusal(400, 2002115, "Felaktigt formaterad JSON.")  # [REF] code, text [OWN]
UNKNOWN_FIELD = refusal(400, 2001399, "Okänt fält i förfrågan.")  # [REF] code, text [OWN]
INVALID_VALUE = refusal(400, 2000106, "Ogiltigt värde.")  # [REF] code, text [OWN]
SERIES_EXISTS = refusal(400, 2000734, "Verifikationsserien finns redan.")  # [OWN]
ACCOUNT_EXISTS = refusal(400, 2000735, "Kontot finns redan.")  # [OWN]
SYSTEM_EXCEPTION = refusal(500, 1000003, "System exception")  # [REF]
TOO_FEW_ROWS = refusal(
    400, 2001897, "Verifikationen måste innehålla minst två rader."
)  # [REF] code (issue 8), text [OWN]
YEAR_OVERLAPS = refusal(400, 2000936, "Räkenskapsåret överlappar ett annat räkenskapsår.")  # [OWN]
COST_CENTRE_UNKNOWN_GET = refusal(404, 2000566, "Kan inte hitta kostnadsstället.")  # [OWN]
COST_CENTRE_UNKNOWN = refusal(400, 2000948, "Kostnadsstället finns inte.")  # [OWN]


def series_not_manual(code: str) -> Refusal:
    return refusal(400, 2001940, f"Verifikationsserien är inte manuell ({code})")  # [REF] [L-M]


def account_inactive(number: int) -> Refusal:
    return refusal(400, 2000550, f'Konto "{number}" är inte aktivt')  # [REF] text, code [L-M]


def period_locked(user: str, until: str) -> Refusal:
    return refusal(400, 2000401, f"{user} har låst perioden t.o.m. {until}")  # [REF] [M]


def cost_centre_required(account: int) -> Refusal:
    return refusal(
        400, 2000946, f"Kostnadsställe är obligatoriskt på konto: {account}"
    )  # [REF] [M]


def cost_centre_inactive(code: str) -> Refusal:
    return refusal(400, 2000947, f'Angivet kostnadsställe "{code}" är inte aktivt')  # [REF] [M]
