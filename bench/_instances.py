"""What the multi-instance benchmarks share: a fresh database by URL, and ``remediator serve``
processes on loopback.

``fresh_database("postgresql://…")`` makes a schema of its own on that server (dropped after),
so a run never meets an earlier one's rows; ``sqlite`` (or nothing) makes a file in ``workdir``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench._loopback import free_port
from remediator.storage.db import open_engine


@contextmanager
def fresh_database(url: str | None, workdir: Path) -> Iterator[str]:
    """A URL for an empty database: a SQLite file, or a new schema on the PostgreSQL of ``url``."""
    if not url or url.startswith("sqlite"):
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"bench_{secrets.token_hex(4)}"
    admin = open_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        scoped = admin.url.update_query_dict({"options": f"-csearch_path={name}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        admin.engine.dispose()


def clean_env(settings: dict[str, str]) -> dict[str, str]:
    """This environment without any REMEDIATOR_* of the caller's, plus ``settings``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("REMEDIATOR_")}
    return base | {f"REMEDIATOR_{name.upper()}": value for name, value in settings.items()}


class Instances:
    """``count`` ``remediator serve`` processes with the same settings, each on its own port."""

    def __init__(self, count: int, settings: dict[str, str], *, log_dir: Path) -> None:
        self.ports = [free_port() for _ in range(count)]
        env = clean_env(settings)
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "remediator", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(log_dir / f"serve-{port}.log").open("wb"),
            )
            for port in self.ports
        ]
        try:
            for port in self.ports:
                wait_healthy(f"http://127.0.0.1:{port}")
        except RuntimeError:
            self.stop()
            raise

    @property
    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(base: str, timeout: float = 30.0) -> None:
    """Poll ``base``'s ``/healthz`` until it answers 200, with one client (``httpx.get`` makes
    a client, and with it an SSL context of about 50 ms of CPU, at every poll: CPU taken from
    the server starting beside it)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, timeout=1) as client:
        while time.monotonic() < deadline:
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not become healthy")


def wait_for(database: str, query: str, target: int, pause: float = 0.2) -> None:
    """Until ``query`` (a count) reaches ``target``, asked every ``pause`` seconds on one
    connection: a new one at each look would start a PostgreSQL backend five times a second,
    CPU the server's figures would count and the instances would go without."""
    engine = open_engine(database)
    try:
        with engine.connect() as conn:
            while int(conn.execute(sa.text(query)).scalar_one()) < target:
                conn.rollback()  # the next look sees what committed meanwhile
                time.sleep(pause)
    finally:
        engine.dispose()


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """CPU time (user + system) a live process has used so far (Linux /proc); ``reaped``:
    with that of its children that ended and were waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float | None:
    """CPU time used so far by the PostgreSQL server processes on this machine (``postgres``
    by name, in /proc), or ``None`` where there are none to see (a remote server). A backend
    that ended (a connection closed) is counted in its server's children's time: without it,
    the figure fell when a pool closed connections during a run."""
    total, found = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in {"postgres", "postmaster"}:
                total += cpu_seconds(int(entry.name), reaped=True)
                found = True
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return total if found else None


def machine() -> str:
    """The CPUs and load of this machine, to print beside figures measured on it."""
    one, five, fifteen = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min)"
    )
