"""What every console page shares: templates, the language, formats, and safe responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from remediator.console.texts import LANGS, Lang, word
from remediator.service.wiring import Service

HERE = Path(__file__).parent
PREFIX = "/console"
LANG_COOKIE = "remediator_lang"

# Every asset comes from the service itself; no inline script, no other origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # not "no-referrer": forms would send Origin: null
    "Cache-Control": "no-store",
}


def _when(value: float | None) -> str:
    """A local date and time, with its offset (one format in both languages)."""
    if value is None:
        return "–"
    return datetime.fromtimestamp(value, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M %z")


def _compact(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict) and not value:
        return "–"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in values.items())


_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["when"] = _when
_ENV.filters["compact"] = _compact
_ENV.filters["pairs"] = _pairs


def _with_lang(request: Request, lang: Lang) -> str:
    """This page in the other language: the same path and filters."""
    url = request.url.include_query_params(lang=lang)
    return f"{url.path}?{url.query}"


def running(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def lang_of(request: Request) -> Lang:
    """``?lang=`` first, then the language cookie, then Swedish."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LANGS:
            return "sv" if value == "sv" else "en"
    return "sv"


def secure(request: Request) -> bool:
    """Cookies are ``Secure`` when the console is reached over https (directly or as the
    deployment's public URL says, behind a proxy that ends TLS)."""
    public = running(request).settings.public_url
    return request.url.scheme == "https" or public.startswith("https://")


def page(
    request: Request,
    template: str,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A rendered page with the console's headers (and the language remembered)."""
    lang = lang_of(request)

    def t(key: str, **fill: object) -> str:
        return word(key, lang, **fill)

    context = {
        "request": request,
        "lang": lang,
        "t": t,
        "prefix": PREFIX,
        "other_lang": "en" if lang == "sv" else "sv",
        "other_lang_url": _with_lang(request, "en" if lang == "sv" else "sv"),
        "path": request.url.path,
        "session": getattr(request.state, "session", None),
    }
    html = _ENV.get_template(template).render(context | values)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 86400,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=secure(request),
        )
    return response


def redirect(url: str) -> RedirectResponse:
    """A 303 after a form: the browser follows with a GET."""
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
