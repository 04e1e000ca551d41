"""Helpers of the end-to-end tests; ``open_rig`` itself is in tests/conftest.py."""

from __future__ import annotations

from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind, Kind
from tests.e2e.support import OpenRig, Rig, state_for

__all__ = ["OpenRig", "provoke", "rig_for"]


async def rig_for(open_rig: OpenRig, kind: Kind) -> Rig:
    return await open_rig(state_for(kind))


async def provoke(open_rig: OpenRig, kind: Kind) -> tuple[Rig, ExportFailure]:
    """A rig in which the Z-report export really failed with ``kind``, and that failure."""
    rig = await rig_for(open_rig, kind)
    return rig, await rig.export(outage=kind == ErrorKind.FORTNOX_UNAVAILABLE)
