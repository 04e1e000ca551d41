"""The console in a real browser: Playwright drives Debian's Chromium (``/usr/bin/chromium``,
never a downloaded one) against a real ``remediator serve`` and a served sandbox.

A person gets a one-time link from ``remediator users add``, chooses a password, logs out and
in, finds the run waiting for review, approves it and sees it fixed with the voucher booked
once in the sandbox; a second plan made before that is stale and shows its differences; a
forged form and the api token get nowhere. Every page is saved as a screenshot at 1280 px and
at phone width under ``artifacts/console/`` (gitignored), and no request leaves the machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from remediator import signing
from remediator.sandbox import load_scenario
from tests.loopback import free_port, stop, wait_until_listening
from tests.service.conftest import API_TOKEN, AUTH, INTAKE_SECRET, MESSAGES

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
SCENARIO = "series_not_manual"
PASSWORD = "a long and good password"

if not CHROMIUM.exists():  # loud: a skipped browser test must not pass unnoticed
    pytest.skip(
        f"*** BROWSER TESTS SKIPPED: {CHROMIUM} is missing; install it with "
        "`apt-get install -y chromium` (make test and .ci/run do so when they can) ***",
        allow_module_level=True,
    )

from playwright.sync_api import (  # noqa: E402
    Browser,
    Page,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


@dataclass
class Stack:
    sandbox_url: str
    service_url: str
    env: dict[str, str]
    cwd: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def remediator(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "remediator", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def vouchers(self) -> list[dict[str, Any]]:
        state = httpx.get(f"{self.sandbox_url}/_sandbox/state").json()
        return [v for t in state["tenants"].values() for y in t["vouchers"].values() for v in y]


def _start(args: list[str], stack_env: dict[str, str], cwd: Path, port: int) -> Any:
    log = cwd / f"{args[0]}.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "remediator", *args, "--port", str(port)],
            env=stack_env,
            cwd=cwd,
            stdout=sink,
            stderr=sink,
        )
    wait_until_listening(process, port, 30, log.read_text)
    return process


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    cwd = tmp_path_factory.mktemp("browser")
    sandbox_port, service_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    service_url = f"http://127.0.0.1:{service_port}"
    client = load_scenario(SCENARIO).clients[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMEDIATOR_")} | {
        "REMEDIATOR_SCHEDULE_ENABLED": "false",
        "REMEDIATOR_FORTNOX_API_URL": f"{sandbox_url}/3",
        "REMEDIATOR_FORTNOX_OAUTH_URL": f"{sandbox_url}/oauth-v1",
        "REMEDIATOR_CLIENT_ID": client.client_id,
        "REMEDIATOR_CLIENT_SECRET": client.client_secret,
        "REMEDIATOR_DATABASE_URL": f"sqlite:///{cwd / 'service.db'}",
        "REMEDIATOR_SECRET_KEY": Fernet.generate_key().decode(),
        "REMEDIATOR_INTAKE_SECRET": INTAKE_SECRET,
        "REMEDIATOR_API_TOKEN": API_TOKEN,
        "REMEDIATOR_PUBLIC_URL": service_url,
        "REMEDIATOR_REDIRECT_URI": f"{service_url}/oauth/callback",
        "REMEDIATOR_WORKER_POLL_SECONDS": "0.1",
    }
    made = Stack(sandbox_url, service_url, env, cwd)
    try:
        made.processes.append(_start(["sandbox", "--scenario", SCENARIO], env, cwd, sandbox_port))
        made.processes.append(_start(["serve"], env, cwd, service_port))
        yield made
    finally:
        for process in made.processes:
            stop(process)


def _prepare(stack: Stack) -> tuple[str, str, str]:
    """Register the restaurant (set_manual needs review), two failures that wait for review,
    and a person; returns both run ids and the person's one-time link."""
    state = load_scenario(SCENARIO)
    example = state.examples["z_report"]
    grant = next(g for g in state.grants if g.name == example["grant"])
    restaurant = example["restaurant"]
    with httpx.Client(base_url=stack.service_url, headers=AUTH, timeout=10) as http:
        http.put(
            f"/v1/connections/{restaurant['id']}",
            json={
                "label": restaurant["name"],
                "restaurant": restaurant,
                "tenant_id": grant.tenant_id,
                "refresh_token": grant.refresh_token,
                "policy": {"set_manual": "review"},
            },
        ).raise_for_status()
        runs = []
        for day in ("2026-03-02", "2026-03-03"):
            voucher = example["voucher"] | {"TransactionDate": day}
            body = json.dumps(
                {
                    "event_id": f"evt-{day}",
                    "restaurant": restaurant,
                    "connection_id": restaurant["id"],
                    "export": {
                        "kind": "z_report",
                        "id": f"z-{day}",
                        "date": day,
                        "voucher": voucher,
                    },
                    "error": {"message": MESSAGES[SCENARIO]},
                }
            ).encode()
            answer = http.post(
                "/v1/failures",
                content=body,
                headers={signing.HEADER: signing.sign(body, INTAKE_SECRET)},
            )
            runs.append(answer.json()["run_id"])
        for run_id in runs:
            _settled(http, run_id, ("awaiting_review",))
    printed = stack.remediator("users", "add", "eva", "--email", "eva@example.se")
    link = next(line for line in printed.splitlines() if "/console/welcome?token=" in line)
    return runs[0], runs[1], link.strip()


def _settled(http: httpx.Client, run_id: str, states: tuple[str, ...]) -> dict[str, Any]:
    for _ in range(300):
        run: dict[str, Any] = http.get(f"/v1/runs/{run_id}").json()
        if run["state"] in states:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {states}")


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _local_only(stack: Stack, outside: list[str]) -> Any:
    def handle(route: Route) -> None:
        url = route.request.url
        if url.startswith((stack.service_url, stack.sandbox_url)):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    return handle


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def test_a_person_reviews_runs_in_the_console(stack: Stack, browser: Browser) -> None:
    first, second, link = _prepare(stack)
    outside: list[str] = []
    context = browser.new_context(viewport=DESKTOP, locale="sv-SE")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.service_url)
    context.route("**/*", _local_only(stack, outside))
    page = context.new_page()

    # A one-time link: choose a password, and be signed in.
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Välj ditt lösenord")
    _shot(page, "welcome-1280")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_again]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/runs$"))

    # Log out; a wrong password is refused; the right one signs in.
    page.click("text=Logga ut")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.goto(f"{stack.service_url}/console/runs")
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/runs"))
    page.fill("input[name=name]", "eva")
    page.fill("input[name=password]", "not my password")
    page.click("button[type=submit]")
    expect(page.locator(".problem")).to_have_text("Fel namn eller lösenord.")
    _shot(page, "login-1280")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/runs$"))

    # The runs: two wait for review; find the first and approve it.
    expect(page.locator('a.badge[href="?status=awaiting_review"] strong')).to_have_text("2")
    _shot(page, "runs-1280")
    page.click('a.badge[href="?status=awaiting_review"]')
    expect(page.locator("table.runs tbody tr")).to_have_count(2)
    page.click(f'a[href="/console/runs/{first}"] >> nth=0')
    expect(page.locator("h1")).to_contain_text("Väntar på granskning")
    _shot(page, "run-review-1280")
    page.click("text=Godkänn och tillämpa")
    expect(page.locator("h1 .badge")).to_have_text("Åtgärdad", timeout=20_000)
    expect(page.locator("text=PUT /3/voucherseries/F").first).to_be_visible()
    _shot(page, "run-fixed-1280")
    page.click('button[data-copy="text-sv"]')
    expect(page.locator('button[data-copy="text-sv"]')).to_have_text("Kopierat")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.inner_text("#text-sv").strip()
    assert "Z-rapport" in copied
    booked = [v for v in stack.vouchers() if v["TransactionDate"] == "2026-03-02"]
    assert len(booked) == 1

    # The second plan was made before the fix: approving it is refused with the differences.
    page.goto(f"{stack.service_url}/console/runs/{second}")
    page.click("text=Godkänn och tillämpa")
    expect(page.locator(".stale h2")).to_have_text("Fortnox har ändrats sedan planen gjordes")
    expect(page.locator(".differences")).to_contain_text("series_manual")
    _shot(page, "run-stale-1280")

    # A forged form is refused, and the person stays signed in.
    page.goto(f"{stack.service_url}/console/restaurants/rest-{SCENARIO}")
    _shot(page, "restaurant-1280")
    page.eval_on_selector("form.policy input[name=csrf]", "input => input.value = 'forged'")
    page.click("form.policy button[type=submit]")
    expect(page.locator("h1")).to_have_text("Förfrågan avvisades")
    _shot(page, "csrf-refused-1280")
    page.goto(f"{stack.service_url}/console/restaurants/rest-{SCENARIO}")
    page.click("text=Kör förkontroll")
    expect(page.locator(".findings li").first).to_be_visible()
    page.goto(f"{stack.service_url}/console/restaurants")
    expect(page.locator("table .badge").first).to_have_text("Aktiv")
    _shot(page, "restaurants-1280")

    # Try an error: the plan of a dry run, nothing written.
    writes_before = len(stack.vouchers())
    page.goto(f"{stack.service_url}/console/try")
    page.fill("textarea[name=message]", 'Fel vid export: Konto "3001" är inte aktivt')
    page.select_option("select[name=restaurant]", f"rest-{SCENARIO}")
    page.click("text=Förklara")
    expect(page.locator("h2").first).to_contain_text("account_inactive")
    expect(page.locator("text=Plan (torrkörning, inget skrevs)")).to_be_visible()
    _shot(page, "try-1280")
    assert len(stack.vouchers()) == writes_before

    # The same pages on a phone, in English.
    phone = browser.new_context(
        viewport=PHONE, storage_state=context.storage_state(), is_mobile=True, has_touch=True
    )
    phone.route("**/*", _local_only(stack, outside))
    small = phone.new_page()
    for name, path in (
        ("runs", "/console/runs?lang=en"),
        ("run-fixed", f"/console/runs/{first}"),
        ("restaurant", f"/console/restaurants/rest-{SCENARIO}"),
        ("try", "/console/try"),
    ):
        small.goto(f"{stack.service_url}{path}")
        expect(small.locator("h1")).to_be_visible()
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (name, width)  # nothing wider than the phone
        _shot(small, f"{name}-phone")
    expect(small.locator("nav a").first).to_have_text("Runs")
    phone.close()

    # The OpenAPI page renders from the service's own files.
    page.goto(f"{stack.service_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("fortnox-remediator")
    _shot(page, "docs-1280")
    context.close()
    assert outside == []


def test_the_api_token_and_a_closed_session_do_not_open_the_console(
    stack: Stack, browser: Browser
) -> None:
    with httpx.Client(base_url=stack.service_url, timeout=10) as http:
        answer = http.get("/console/runs", headers=AUTH, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_extra_http_headers({"Authorization": f"Bearer {API_TOKEN}"})
    page.goto(f"{stack.service_url}/console/restaurants")
    expect(page.locator("h1")).to_have_text("Logga in")
    context.close()
