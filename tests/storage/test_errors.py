"""A database error's text, on either dialect: never a row's values, and one line for people."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from remediator.storage.db import Database, connections, problem

SECRET = "gAAAAB-a-token-as-stored"


def test_an_error_s_text_never_carries_the_values_of_its_statement(database: Database) -> None:
    row = {
        "id": "c1",
        "label": "A",
        "client_id": "x",
        "kind": "refresh_token",
        "status": "active",
        "refresh_token": SECRET,
        "created_at": 1.0,
        "updated_at": 1.0,
    }
    with database.engine.begin() as conn:
        conn.execute(connections.insert().values(**row))
    with pytest.raises(IntegrityError) as refused, database.engine.begin() as conn:
        conn.execute(connections.insert().values(**row))  # the same id again
    assert SECRET not in str(refused.value)
    assert "hidden" in str(refused.value)  # SQLAlchemy says the parameters were left out
    said = problem(refused.value)
    assert said.startswith("IntegrityError: ")
    assert "\n" not in said
    assert SECRET not in said
    assert "INSERT" not in said  # the driver's message, not the statement


def test_problem_names_the_error_when_the_driver_said_nothing() -> None:
    assert problem(sa.exc.OperationalError("SELECT 1", {}, Exception(""))) == "OperationalError"
