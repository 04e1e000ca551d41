"""Actions called one by one on the sandbox, with a context built by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from remediator.actions import ACTIONS, Context
from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind, Kind
from remediator.policy import Policy
from remediator.report import Mode, Recognition, Step
from remediator.sandbox import SandboxState
from remediator.sandbox.world import Company
from tests.e2e.support import Rig, healthy_state, writes


@dataclass
class Bench:
    """One sandbox and its connection; ``context`` opens a run's context on them."""

    rig: Rig

    @property
    def company(self) -> Company:
        return self.rig.company

    def failure(self, *, voucher: bool = True, **error: Any) -> ExportFailure:
        body = self.rig.voucher_body() if voucher else None
        return self.rig.failure(error or {"message": "Fel vid export"}, body)

    def context(
        self,
        mode: Mode = "apply",
        *,
        failure: ExportFailure | None = None,
        kind: Kind = ErrorKind.SERIES_NOT_MANUAL,
        policy: Policy | None = None,
        reviewed: bool = False,
    ) -> Context:
        runtime = self.rig.runtime
        connection = runtime.store.get(self.rig.connection.id)
        ctx = Context(
            failure=failure or self.failure(),
            recognition=Recognition(kind=kind, matched_by="code", playbook=kind),
            connection=connection,
            client=runtime.connector.client(connection, read_only=mode == "plan"),
            connector=runtime.connector,
            connections=runtime.store,
            mode=mode,
            policy=policy or Policy(),
            reviewed=reviewed,
            reconnect_url="https://remediator.test/reconnect",
        )
        ctx.instructions = runtime.engine.instructions_for(ctx)
        return ctx

    async def act(
        self, ctx: Context, action: str, args: dict[str, str] | None = None
    ) -> tuple[list[Step], list[tuple[str, str]]]:
        """Run one action; its steps and the writes the sandbox saw meanwhile."""
        seen = len(self.rig.sandbox.requests)
        result = await ACTIONS[action](ctx, args or {})
        steps = result if isinstance(result, list) else [result]
        return steps, writes(list(self.rig.sandbox.requests)[seen:])

    async def with_year(self, ctx: Context) -> Context:
        await self.act(ctx, "financial_year")
        return ctx


OpenBench = Callable[..., Bench]


@pytest.fixture
async def open_bench(tmp_path: Path) -> AsyncIterator[OpenBench]:
    opened: list[Rig] = []

    def make(change: Callable[[SandboxState], None] | None = None) -> Bench:
        state = healthy_state()
        if change is not None:
            change(state)
        workdir = tmp_path / f"bench{len(opened)}"
        workdir.mkdir()
        rig = Rig.open(
            SandboxState.model_validate(state.model_dump(mode="json", by_alias=True)), workdir
        )
        opened.append(rig)
        return Bench(rig)

    yield make
    for rig in opened:
        await rig.close()
