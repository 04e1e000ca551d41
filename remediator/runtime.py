"""What every door (CLI, service, demo) needs to run: settings, stores, connector, engine."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from remediator.catalogue import Catalogue, load_catalogue
from remediator.companies import CompanyBudget
from remediator.engine import Engine
from remediator.fortnox import FortnoxConnector, RequestHook, RequestRecord
from remediator.fortnox._events import no_hook
from remediator.links import ReconnectLinks, link_key
from remediator.plans import waits_for_review
from remediator.report import Report
from remediator.settings import Settings, load_settings
from remediator.storage import ConnectionStore, Database, TokenCipher, load_cipher
from remediator.storage.leases import Leases, LeaseStore
from remediator.storage.queue import QueueStore
from remediator.storage.runs import RunStore
from remediator.trail import audit_token_calls


def open_database(settings: Settings) -> Database:
    """The deployment's database, upgraded on opening only if ``database_upgrade`` says so."""
    return Database(settings.database_url, upgrade=settings.database_upgrade)


def open_store(settings: Settings | None = None) -> ConnectionStore:
    settings = settings or load_settings()
    database = open_database(settings)
    return ConnectionStore(database, load_cipher(settings.secret_key, settings.key_file))


def open_connector(
    settings: Settings,
    store: ConnectionStore,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    hook: RequestHook = no_hook,
) -> FortnoxConnector:
    return FortnoxConnector(settings, store, transport=transport, hook=hook)


def reconnect_links(settings: Settings, cipher: TokenCipher) -> ReconnectLinks:
    """The signer of reconnect links in reports (the service checks them with the same key)."""
    key = link_key(settings.link_secret.get_secret_value(), cipher)
    return ReconnectLinks(settings.public_url, key, settings.reconnect_link_seconds)


def open_leases(
    settings: Settings, database: Database, connector: FortnoxConnector | None = None
) -> Leases:
    """This process's holder of leases; of company leases (``connector``: whose rate budget
    goes with them, ``CompanyBudget``), one per process."""
    budget = None if connector is None else CompanyBudget(connector.limiter)
    return Leases(LeaseStore(database), settings.lease_seconds, budget=budget)


def fan_out(*hooks: RequestHook) -> RequestHook:
    def both(record: RequestRecord) -> None:
        for hook in hooks:
            hook(record)

    return both


@dataclass
class Runtime:
    """Everything one process needs to run remediations; close it when done."""

    settings: Settings
    store: ConnectionStore
    runs: RunStore
    connector: FortnoxConnector
    catalogue: Catalogue
    engine: Engine

    async def aclose(self) -> None:
        await self.connector.aclose()

    async def needs_review(self, plan: Report) -> bool:
        """The plan waits for a person: its playbook is not for unreviewed use, or the
        connection's policy (else the deployment's) does not allow a change it would make."""
        playbook = self.catalogue.playbook(plan.kind)
        if playbook is None or not playbook.auto_apply:
            return True
        # read as the engine reads it for a run: at most seconds ago, shared by the burst
        connection = await self.engine.companies.connection(plan.connection_id)
        return waits_for_review(plan, connection.policy or self.settings.policy)


def open_runtime(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    hook: RequestHook = no_hook,
) -> Runtime:
    settings = settings or load_settings()
    # The queue's store: a check ahead stores its runs in the queue (remediator.ahead); for
    # every other run it is the plain run store.
    runs = QueueStore(open_database(settings))
    return runtime_on(settings, runs, transport=transport, hook=hook)


def runtime_on(
    settings: Settings,
    runs: QueueStore,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    hook: RequestHook = no_hook,
) -> Runtime:
    """A runtime whose runs go to ``runs`` (and its database): the service shares its queue.
    ``hook`` sees every Fortnox request; token calls also land in the audit of the run that
    made them."""
    database = runs.database
    cipher = load_cipher(settings.secret_key, settings.key_file)
    store = ConnectionStore(database, cipher)
    connector = open_connector(
        settings, store, transport=transport, hook=fan_out(hook, audit_token_calls)
    )
    engine = Engine(
        connector,
        load_catalogue(),
        runs,
        store=store,
        default_policy=settings.policy,
        links=reconnect_links(settings, cipher),
        leases=open_leases(settings, database, connector),
    )
    return Runtime(settings, store, runs, connector, engine.catalogue, engine)
