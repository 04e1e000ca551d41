"""The console's words in Swedish and English (``sv`` is the default)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["sv", "en"]
LANGS: tuple[Lang, ...] = ("sv", "en")

WORDS: dict[str, tuple[str, str]] = {
    # frame
    "console": ("Supportkonsol", "Support console"),
    "runs": ("Körningar", "Runs"),
    "try": ("Testa ett fel", "Try an error"),
    "restaurants": ("Restauranger", "Restaurants"),
    "logout": ("Logga ut", "Log out"),
    "signed_in_as": ("Inloggad som", "Signed in as"),
    "language": ("Språk", "Language"),
    # login
    "login": ("Logga in", "Log in"),
    "name": ("Namn", "Name"),
    "email": ("E-post", "Email"),
    "password": ("Lösenord", "Password"),
    "password_again": ("Lösenordet igen", "Password again"),
    "login_failed": ("Fel namn eller lösenord.", "Wrong name or password."),
    "login_locked": (
        "För många misslyckade försök: kontot är låst en stund. Försök igen om 15 minuter.",
        "Too many failed attempts: the account is locked for a while. Try again in 15 minutes.",
    ),
    "login_hint": (
        "Konton skapas med `remediator users add`. API-nyckeln loggar inte in här.",
        "Accounts are made with `remediator users add`. The api token does not log in here.",
    ),
    "welcome": ("Välj ditt lösenord", "Choose your password"),
    "welcome_for": ("Konto", "Account"),
    "password_rule": ("Minst 10 tecken.", "At least 10 characters."),
    "passwords_differ": ("Lösenorden är olika.", "The passwords differ."),
    "link_invalid": (
        "Länken gäller inte (använd, för gammal eller okänd). Be om en ny: `remediator users link NAMN`.",
        "This link is not valid (used, expired or unknown). Ask for a new one: `remediator users link NAME`.",
    ),
    "save": ("Spara", "Save"),
    "forbidden": ("Förfrågan avvisades", "Request refused"),
    "csrf_failed": (
        "Formuläret var för gammalt eller kom inte från konsolen. Ladda om sidan och försök igen.",
        "The form was too old or did not come from the console. Reload the page and try again.",
    ),
    "not_found": ("Finns inte", "Not found"),
    "back": ("Tillbaka", "Back"),
    # runs list
    "all": ("Alla", "All"),
    "status": ("Status", "Status"),
    "restaurant": ("Restaurang", "Restaurant"),
    "export_date": ("Exportdatum", "Export date"),
    "received": ("Mottagen", "Received"),
    "kind": ("Feltyp", "Kind"),
    "scheduled": (
        "Förhandskontroll: rättas före exporten",
        "Check ahead: fixed before the export",
    ),
    "filter": ("Filtrera", "Filter"),
    "clear": ("Rensa", "Clear"),
    "no_runs": ("Inga körningar matchar.", "No runs match."),
    "newer": ("← Nyare", "← Newer"),
    "older": ("Äldre →", "Older →"),
    "page_of": (
        "Sida {page} av {pages} ({total} körningar)",
        "Page {page} of {pages} ({total} runs)",
    ),
    # statuses
    "st_queued": ("I kö", "Queued"),
    "st_running": ("Pågår", "Running"),
    "st_awaiting_review": ("Väntar på granskning", "Waiting for review"),
    "st_awaiting_reconnect": ("Väntar på ny koppling", "Waiting for reconnect"),
    "st_rejected": ("Avvisad", "Rejected"),
    "st_fixed": ("Åtgärdad", "Fixed"),
    "st_nothing_to_fix": ("Inget att åtgärda", "Nothing to fix"),
    "st_would_fix": ("Skulle åtgärdas", "Would fix"),
    "st_manual_action_required": ("Kräver manuell åtgärd", "Manual action required"),
    "st_failed": ("Misslyckad", "Failed"),
    "st_unrecognized": ("Okänt fel", "Unrecognised"),
    # run page
    "run": ("Körning", "Run"),
    "error_as_sent": ("Felet som Backoffice skickade", "The error as the Backoffice sent it"),
    "code": ("Kod", "Code"),
    "http_status": ("HTTP-status", "HTTP status"),
    "recognised_as": ("Känns igen som", "Recognised as"),
    "matched_by": ("Matchat via", "Matched by"),
    "parameters": ("Parametrar", "Parameters"),
    "plan": ("Plan", "Plan"),
    "report": ("Rapport", "Report"),
    "no_report": (
        "Ingen rapport än: körningen har inte gått.",
        "No report yet: the run has not been worked.",
    ),
    "step": ("Steg", "Step"),
    "before_after": ("Före → efter", "Before → after"),
    "writes": ("Skrivningar till Fortnox", "Writes to Fortnox"),
    "fortnox_requests": ("Anrop till Fortnox", "Fortnox requests"),
    "no_requests": ("Inga anrop sparade.", "No requests recorded."),
    "texts_for_restaurant": ("Texter till restaurangen", "Texts for the restaurant"),
    "swedish": ("Svenska", "Swedish"),
    "english": ("Engelska", "English"),
    "copy": ("Kopiera", "Copy"),
    "copied": ("Kopierat", "Copied"),
    "callback": ("Återrapport (callback)", "Callback"),
    "no_callback": (
        "Ingen callback_url: Backoffice frågar själv.",
        "No callback_url: the Backoffice polls.",
    ),
    "attempts": ("Försök", "Attempts"),
    "last_error": ("Senaste fel", "Last error"),
    "next_attempt": ("Nästa försök", "Next attempt"),
    "audit_trail": ("Granskningslogg", "Audit trail"),
    "no_audit": ("Inga beslut ännu.", "No decisions yet."),
    "who": ("Vem", "Who"),
    "when": ("När", "When"),
    "what": ("Vad", "What"),
    "via": ("Via", "Via"),
    "review": ("Granskning", "Review"),
    "review_intro": (
        "Planen nedan väntar på ditt beslut. Godkänn: planen tillämpas, men bara om Fortnox ser ut som när den gjordes. Avvisa: inget skrivs, och Backoffice får veta varför.",
        "The plan below waits for your decision. Approve: the plan is applied, but only if Fortnox still looks as it did when it was made. Reject: nothing is written, and the Backoffice is told why.",
    ),
    "approve": ("Godkänn och tillämpa", "Approve and apply"),
    "reject": ("Avvisa", "Reject"),
    "reason": ("Anledning", "Reason"),
    "approved_note": (
        "Godkänd: körningen ligger i kö och tillämpas strax. Sidan uppdateras av sig själv.",
        "Approved: the run is queued and will be applied shortly. The page refreshes itself.",
    ),
    "rejected_note": ("Planen avvisades.", "The plan was rejected."),
    "stale_title": (
        "Fortnox har ändrats sedan planen gjordes",
        "Fortnox changed since the plan was made",
    ),
    "stale_intro": (
        "Planen tillämpades inte. Körningen planeras om; granska den nya planen när den väntar igen. Skillnader:",
        "The plan was not applied. The run is planned again; review the new plan once it waits again. Differences:",
    ),
    "approved_by": ("Godkänd av", "Approved by"),
    "state_reason": ("Orsak", "Reason"),
    "voucher": ("Verifikation", "Voucher"),
    "resent": ("Skickad igen", "Re-sent"),
    "refreshing": ("Uppdateras automatiskt…", "Refreshing automatically…"),
    "summary": ("Sammanfattning", "Summary"),
    "explanation": ("Förklaring", "Explanation"),
    "manual_steps": ("Att göra för hand", "To do by hand"),
    # try an error
    "try_intro": (
        "Klistra in felet som Backoffice visar. Välj en restaurang för att se en plan (torrkörning: inget skrivs i Fortnox).",
        "Paste the error the Backoffice shows. Pick a restaurant to see a plan (a dry run: nothing is written in Fortnox).",
    ),
    "error_text": ("Feltext", "Error text"),
    "optional": ("valfritt", "optional"),
    "none": ("Ingen", "None"),
    "explain": ("Förklara", "Explain"),
    "what_it_means": ("Vad det betyder", "What it means"),
    "what_we_do": ("Vad remediatorn gör", "What the remediator does"),
    "dry_run_plan": ("Plan (torrkörning, inget skrevs)", "Plan (dry run, nothing written)"),
    "auto_apply": ("Får tillämpas utan granskning", "May be applied without review"),
    "yes": ("Ja", "Yes"),
    "no": ("Nej", "No"),
    # restaurants
    "connection": ("Koppling", "Connection"),
    "state": ("Läge", "State"),
    "cs_active": ("Aktiv", "Active"),
    "cs_never_authorized": ("Aldrig godkänd", "Never authorized"),
    "cs_needs_reconnect": ("Behöver kopplas om", "Needs reconnect"),
    "cs_lost_by_us": ("Tappad av oss", "Lost by us"),
    "no_connections": (
        "Inga kopplingar än: `remediator connections add` eller PUT /v1/connections/{id}.",
        "No connections yet: `remediator connections add` or PUT /v1/connections/{id}.",
    ),
    "last_refresh": ("Senast förnyad", "Last refreshed"),
    "waiting_runs": ("Väntande", "Waiting"),
    "reconnect_link": ("Länk för att koppla om", "Reconnect link"),
    "reconnect_hint": (
        "Skicka länken till restaurangen: den loggar in i Fortnox och godkänner kopplingen. Länken gäller bara denna koppling och går ut.",
        "Send the link to the restaurant: they log in to Fortnox and approve the connection. The link is for this connection only and expires.",
    ),
    "policy": ("Policy per typ av ändring", "Policy per kind of change"),
    "policy_hint": (
        "auto: utan granskning · review: efter att en person godkänt · never: lämnas till restaurangen",
        "auto: without review · review: after a person approved · never: left to the restaurant",
    ),
    "policy_default": (
        "Driftens standardpolicy gäller.",
        "The deployment's default policy applies.",
    ),
    "policy_saved": ("Policyn sparades.", "The policy was saved."),
    "check": ("Förkontroll", "Preflight check"),
    "check_run": ("Kör förkontroll", "Run the check"),
    "check_hint": (
        "Läser bara: vad skulle få nästa export att misslyckas?",
        "Reads only: what would make the next export fail?",
    ),
    "series": ("Serie", "Series"),
    "check_ok": ("Inga hinder hittades.", "No obstacles found."),
    "check_problems": ("{n} hinder hittades.", "{n} obstacle(s) found."),
    "check_incomplete": (
        "Kontrollen är inte klar: Fortnox svarade inte. Försök igen om en stund.",
        "The check is not complete: Fortnox did not answer. Try again in a while.",
    ),
    "fortnox_unreachable": (
        "Fortnox kunde inte användas: {error}. Kontrollera nätverket och Fortnox driftstatus och försök igen.",
        "Fortnox could not be used: {error}. Check the network and Fortnox's status, and try again.",
    ),
}


def word(key: str, lang: Lang, **values: object) -> str:
    """The text for ``key`` in ``lang``; ``values`` fill its ``{names}``."""
    sv, en = WORDS[key]
    text = sv if lang == "sv" else en
    return text.format(**values) if values else text
