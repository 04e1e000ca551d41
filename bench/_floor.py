"""The HTTP stack's floor for the remediation bench: the engine's own requests, in the order
the sandbox logged them for each company, sent again by a bare client on the connector's HTTP
stack (httpx over the connector's transport, ``remediator/fortnox/_network.py``; no
engine, no playbooks, no database, no rate limiter, no report) to a fresh sandbox process in
the same state and with the same latency. Companies go on at the same time, each company's
requests one after the other, as the engine sends them.

What it costs in wall time and CPU is what httpx (and this machine) charge for the plan
alone: the engine cannot do better than this while it is built on httpx, and the ratio of the
engine's figures to it is the engine's own overhead.
"""

from __future__ import annotations

import asyncio
import resource
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx

from remediator.failure import ExportFailure
from remediator.fortnox._network import NetworkTransport
from remediator.fortnox._oauth import KEEPALIVE_SECONDS, TOKEN_LIMITS

POOLS = 64  # as the connector spreads companies over its connection pools
OAUTH_PATH = "/oauth-v1/token"

# The bodies of the engine's writes in the bench (remediator/fortnox/_client.py builds them)
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/3/voucherseries/F"): {"VoucherSeries": {"Manual": True}},
    ("PUT", "/3/accounts/3001"): {"Account": {"Active": True}},
    ("POST", "/3/voucherseries"): {
        "VoucherSeries": {"Code": "F", "Description": "Försäljning", "Manual": True}
    },
}


@dataclass(frozen=True)
class Floor:
    seconds: float
    cpu_seconds: float
    requests: int


@dataclass(frozen=True)
class Company:
    """One company's part of the replay: its grant and its requests in the logged order."""

    tenant: str
    refresh_token: str
    requests: list[tuple[str, str, str, int]]  # method, path, query, the engine's status
    vouchers: list[dict[str, Any]]  # POST /3/vouchers bodies, one per logged voucher POST


def companies(
    log: list[dict[str, Any]], grants: dict[str, tuple[str, str]], failures: list[ExportFailure]
) -> list[Company]:
    """The replay's companies from the sandbox's request log; ``grants``: connection id ->
    (tenant, refresh token); ``failures``: their vouchers are the voucher POSTs' bodies."""
    by_tenant: dict[str, list[tuple[str, str, str, int]]] = defaultdict(list)
    for entry in log:
        if entry.get("tenant") and entry["path"] != OAUTH_PATH:
            request = (entry["method"], entry["path"], entry["query"], int(entry["status"]))
            by_tenant[str(entry["tenant"])].append(request)
    vouchers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for failure in failures:
        if failure.export.voucher is not None:
            body = {"Voucher": failure.export.voucher.new_voucher_payload()}
            vouchers[grants[failure.connection_id][0]].append(body)
    refresh = dict(grants.values())
    return [
        Company(tenant, refresh[tenant], requests, vouchers[tenant])
        for tenant, requests in by_tenant.items()
    ]


async def replay(base: str, client_id: str, client_secret: str, plan: list[Company]) -> Floor:
    """Send ``plan`` to the sandbox at ``base``; the wall time and this process's CPU."""
    timeout = httpx.Timeout(30.0)
    limits = httpx.Limits(  # as the connector's pools
        max_connections=100, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_SECONDS
    )
    tls = httpx.create_ssl_context()
    pools = [
        httpx.AsyncClient(timeout=timeout, transport=NetworkTransport(limits=limits, verify=tls))
        for _ in range(POOLS)
    ]
    tokens = httpx.AsyncClient(  # as the engine's token calls: a new connection each
        timeout=timeout,
        transport=NetworkTransport(limits=TOKEN_LIMITS, verify=tls),
        auth=httpx.BasicAuth(client_id, client_secret),
    )
    try:
        cpu, started = _own_cpu(), time.monotonic()
        sent = await asyncio.gather(
            *(_company(pools[zlib.crc32(c.tenant.encode()) % POOLS], tokens, base, c) for c in plan)
        )
        seconds, cpu = time.monotonic() - started, _own_cpu() - cpu
    finally:
        for pool in [*pools, tokens]:
            await pool.aclose()
    return Floor(seconds, cpu, sum(sent))


async def _company(
    http: httpx.AsyncClient, tokens: httpx.AsyncClient, base: str, company: Company
) -> int:
    token = await tokens.post(
        f"{base}{OAUTH_PATH}",
        data={"grant_type": "refresh_token", "refresh_token": company.refresh_token},
    )
    headers = {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}
    vouchers = iter(company.vouchers)
    for method, path, query, status in company.requests:
        url = f"{base}{path}?{query}" if query else f"{base}{path}"
        body = next(vouchers) if (method, path) == ("POST", "/3/vouchers") else None
        body = BODIES.get((method, path), body)
        try:
            answer = await http.request(method, url, headers=headers, json=body)
        except httpx.TransportError:  # a kept-alive connection the server closed: once more
            answer = await http.request(method, url, headers=headers, json=body)
        if answer.status_code != status:  # not the same work as the engine's request
            raise RuntimeError(f"{method} {path}: {answer.status_code}, the engine's {status}")
    return 1 + len(company.requests)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
