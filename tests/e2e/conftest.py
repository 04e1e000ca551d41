"""Fixtures of the end-to-end tests: rigs on the sandbox, closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind, Kind
from remediator.sandbox import SandboxState
from tests.e2e.support import Rig, Wrap, state_for

OpenRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def open_rig(tmp_path: Path) -> AsyncIterator[OpenRig]:
    opened: list[Rig] = []

    async def make(state: SandboxState, wrap: Wrap | None = None) -> Rig:
        workdir = tmp_path / f"rig{len(opened)}"
        workdir.mkdir()
        rig = Rig.open(state, workdir, wrap)
        opened.append(rig)
        return rig

    yield make
    for rig in opened:
        await rig.close()


async def rig_for(open_rig: OpenRig, kind: Kind) -> Rig:
    return await open_rig(state_for(kind))


async def provoke(open_rig: OpenRig, kind: Kind) -> tuple[Rig, ExportFailure]:
    """A rig in which the Z-report export really failed with ``kind``, and that failure."""
    rig = await rig_for(open_rig, kind)
    return rig, await rig.export(outage=kind == ErrorKind.FORTNOX_UNAVAILABLE)
