"""The intake's group commit: intakes that arrive together share a batch; every intake gets
its answer, an error when its batch could not be answered, and the writer goes on after."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest

from remediator.service.writer import IntakeWriter
from remediator.storage.queue import Accepted, Intake, QueuedRun, QueueStore


class Answering:
    """Stands in for the queue's ``accept_many``: notes each batch, sleeps a little (so that
    intakes arriving meanwhile gather), then answers each intake with its run (or, once
    ``broken``, with no answers at all)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.broken = False

    def accept_many(self, intakes: list[Intake]) -> list[Accepted]:
        self.batches.append([intake.event_id for intake in intakes])
        time.sleep(0.05)
        if self.broken:
            self.broken = False
            return []  # one answer short of every intake: a bug, not a refusal
        return [Accepted(_run(intake), created=True) for intake in intakes]


def _run(intake: Intake) -> QueuedRun:
    row = dict.fromkeys(QueuedRun.model_fields) | intake.row(0.0)
    return QueuedRun.model_validate(row)


def _intake(n: int) -> Intake:
    return Intake(f"r{n}", f"e{n}", "c", "series_missing", "2026-03-01", "{}", None)


async def test_intakes_that_arrive_together_share_a_batch_and_each_gets_its_run() -> None:
    queue = Answering()
    writer = IntakeWriter(cast("QueueStore", queue))
    answers = await asyncio.gather(*(writer.submit(_intake(n)) for n in range(6)))
    writer.close()
    assert [answer.run.id for answer in answers] == [f"r{n}" for n in range(6)]
    assert queue.batches[0] == ["e0"]  # the first goes alone; the rest gathered meanwhile
    assert queue.batches[1:] == [[f"e{n}" for n in range(1, 6)]]


async def test_a_batch_whose_answers_cannot_be_given_fails_its_intakes_and_the_next_is_written() -> (
    None
):
    queue = Answering()
    queue.broken = True
    writer = IntakeWriter(cast("QueueStore", queue))
    refused = await asyncio.gather(
        *(writer.submit(_intake(n)) for n in range(3)), return_exceptions=True
    )
    assert isinstance(refused[0], ValueError)  # the first batch: e0 alone
    assert [cast("Accepted", answer).run.id for answer in refused[1:]] == ["r1", "r2"]
    later = await asyncio.wait_for(writer.submit(_intake(9)), timeout=5)
    writer.close()
    assert later.run.id == "r9"
    assert queue.batches == [["e0"], ["e1", "e2"], ["e9"]]


async def test_a_request_cancelled_while_its_batch_is_written_leaves_the_others_answered() -> None:
    queue = Answering()
    writer = IntakeWriter(cast("QueueStore", queue))
    first = asyncio.ensure_future(writer.submit(_intake(0)))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(writer.submit(_intake(1)))
    await asyncio.sleep(0)
    first.cancel()
    assert (await second).run.id == "r1"
    with pytest.raises(asyncio.CancelledError):
        await first
    writer.close()
