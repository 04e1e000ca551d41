"""Everything the service holds while it runs: the runtime, the queue, workers and metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from remediator.backoffice import BackofficeNotifier
from remediator.failure import ExportFailure, storable
from remediator.runtime import (
    Runtime,
    open_database,
    open_leases,
    runtime_on,
)
from remediator.schedule import DailySchedule
from remediator.service.callbacks import Deliverer
from remediator.service.jobs import JOBS, JobTools, Spread, bound
from remediator.service.metrics import Metrics
from remediator.service.process import Processor
from remediator.service.scheduler import Scheduler
from remediator.service.worker import Workers
from remediator.service.writer import IntakeWriter
from remediator.settings import Settings
from remediator.storage import Database
from remediator.storage.audit import AuditStore
from remediator.storage.jobs import JobRunStore
from remediator.storage.keys import MISFIT, WRONG_KEY
from remediator.storage.oauth_states import OAuthStateStore
from remediator.storage.overview import OverviewStore
from remediator.storage.queue import Accepted, Intake, QueueStore
from remediator.storage.users import UserStore

log = logging.getLogger(__name__)


@dataclass
class Service:
    """The service's parts; ``start`` and ``stop`` run with the app's lifespan."""

    settings: Settings
    runtime: Runtime
    queue: QueueStore
    states: OAuthStateStore
    metrics: Metrics
    workers: Workers
    deliverer: Deliverer
    writer: IntakeWriter
    users: UserStore
    audit: AuditStore
    jobs: JobRunStore
    notifier: BackofficeNotifier
    scheduler: Scheduler | None  # None: schedule_enabled is false
    key_fits: bool | None = None  # None: not compared yet (start compares)
    _stopping: asyncio.Task[None] | None = None  # the work stopped for a replaced key

    async def start(self) -> None:
        # The event loop's default executor (``asyncio.to_thread``) makes the database calls
        # with ``database_threads`` threads, not asyncio's cpu_count + 4 (the loop shuts it
        # down when it closes).
        threads = ThreadPoolExecutor(
            self.settings.database_threads, thread_name_prefix="remediator-db"
        )
        asyncio.get_running_loop().set_default_executor(threads)
        self.deliverer.start()
        self.key_fits = await asyncio.to_thread(self.runtime.store.key_fits)
        if self.key_fits is False:
            # every run would fail where an instance with the right key fixes it: intake goes
            # on storing failures, for that instance to work
            log.error("%s: no run is worked here, and no daily job", WRONG_KEY)
            return
        await self.workers.start()
        if self.scheduler is not None:
            await self.scheduler.start()

    async def _key_checked(self) -> None:
        """Compare the key again (a health check's, so at the pace the checks come): a key
        that ``remediator db adopt-key`` replaced while this instance ran stops its work as a
        wrong key at start would have (the runs under way finish or are cut off, as at a
        stop)."""
        if self.key_fits is False or await asyncio.to_thread(self.runtime.store.key_fits):
            return
        self.key_fits = False
        log.error("%s: it was replaced; no more runs are worked here", WRONG_KEY)
        self._stopping = asyncio.create_task(self._stop_work(), name="remediator-wrong-key")

    async def _stop_work(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.workers.stop()

    async def stop(self) -> None:
        if self._stopping is not None:
            await self._stopping
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.workers.stop()
        await self.deliverer.stop()
        await self.notifier.aclose()
        self.writer.close()
        await self.runtime.aclose()

    async def accept(self, run_id: str, failure: ExportFailure) -> Accepted:
        """Store a failure as a queued run; returns once it is committed."""
        intake = Intake(
            run_id=run_id,
            event_id=failure.event_id,
            connection_id=failure.connection_id,
            kind=self.runtime.catalogue.classify_failure(failure).kind,
            export_date=failure.export.date.isoformat(),
            failure_json=storable(failure),
            callback_url=str(failure.callback_url) if failure.callback_url else None,
        )
        accepted = await self.writer.submit(intake)
        if accepted.created:
            self.metrics.failure_received(intake.kind)
        return accepted

    def wake(self) -> None:
        self.workers.wake()
        self.deliverer.wake()

    def wake_workers(self) -> None:
        """A failure was queued: the workers look at once. Not the callbacks: a queued run
        has none due (its callback comes when it settles, and settling wakes them)."""
        self.workers.wake()

    async def healthy(self) -> tuple[str, dict[str, object]]:
        """``ok``; ``degraded`` (runs stuck in ``running``, or the daily jobs' scheduler
        stopped); or ``unavailable`` (the database does not answer, or workers or callbacks
        are down), with the checks behind it."""
        limit = self.settings.stuck_run_seconds
        try:
            await asyncio.to_thread(self.queue.ping)
            stuck = await asyncio.to_thread(self.queue.stuck, limit)
            await self._key_checked()
            database = True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            stuck, database = 0, False
        workers, callbacks = self.workers.running(), self.deliverer.alive()
        checks: dict[str, object] = {
            "database": "ok" if database else "unreachable",
            "secret_key": MISFIT if self.key_fits is False else "ok",
            "workers": {
                "state": "running" if workers else "stopped",
                "busy": self.workers.busy(),
                "concurrency": self.workers.concurrency,
            },
            "callbacks": "ok" if callbacks else "stopped",
            "runs": {"stuck": stuck, "stuck_after_seconds": limit},
            "scheduler": self._scheduler_state(),
        }
        if not (database and workers and callbacks) or self.key_fits is False:
            return "unavailable", checks
        return ("degraded" if stuck or checks["scheduler"] == "stopped" else "ok"), checks

    def _scheduler_state(self) -> str:
        if self.scheduler is None:
            return "off"
        return "running" if self.scheduler.running() else "stopped"


def open_scheduler(
    settings: Settings, database: Database, tools: JobTools, clock: Callable[[], float]
) -> Scheduler | None:
    """The daily jobs' scheduler, unless ``schedule_enabled`` is false."""
    if not settings.schedule_enabled:
        return None
    return Scheduler(
        bound(JOBS, tools),
        schedule=DailySchedule.of(settings.schedule_time, settings.schedule_timezone),
        runs=JobRunStore(database),
        leases=open_leases(settings, database),
        clock=clock,
        poll_seconds=settings.schedule_poll_seconds,
        grace_seconds=settings.shutdown_grace_seconds,
    )


def open_service(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    callback_transport: httpx.AsyncBaseTransport | None = None,
    backoffice_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> Service:
    """Wire the service; ``transport`` replaces the network to Fortnox (the sandbox in tests),
    ``clock`` the scheduler's wall clock (the sandbox's days, in tests)."""
    database = open_database(settings)
    queue = QueueStore(database)
    metrics = Metrics(
        queue.depth,
        lambda: queue.stuck(settings.stuck_run_seconds),
        OverviewStore(database).read,
    )
    runtime = runtime_on(settings, queue, transport=transport, hook=metrics.fortnox_request)
    processor = Processor(runtime, queue, settings, metrics)
    workers = Workers(
        processor,
        queue,
        concurrency=settings.worker_concurrency,
        poll_seconds=settings.worker_poll_seconds,
        join_seconds=settings.join_seconds,
        grace_seconds=settings.shutdown_grace_seconds,
        max_attempts=settings.run_attempts,
    )
    deliverer = Deliverer(queue, settings, transport=callback_transport)
    processor.on_settled = deliverer.wake
    states = OAuthStateStore(database)
    writer = IntakeWriter(queue)
    users, audit = UserStore(database), AuditStore(database)
    notifier = BackofficeNotifier(settings, transport=backoffice_transport)
    spread = Spread(settings.schedule_spread_minutes * 60)
    jobs = JobRunStore(database)
    tools = JobTools(
        runtime,
        queue,
        notifier,
        spread,
        clock=clock,
        wake=workers.wake,
        runs=jobs,
        poll_seconds=settings.schedule_poll_seconds,
    )
    return Service(
        settings,
        runtime,
        queue,
        states,
        metrics,
        workers,
        deliverer,
        writer,
        users,
        audit,
        jobs,
        notifier,
        open_scheduler(settings, database, tools, clock),
    )
