"""Who owns a connection: /3/me read with the connection's own token, stored, shown, and the
warning for a connection that rests on a user who is not a system administrator."""

from __future__ import annotations

from remediator.owner import learn_owner, owner_line, owner_warning
from remediator.sandbox import load_scenario
from remediator.storage import Connection, ConnectionKind
from tests.e2e.conftest import OpenRig
from tests.e2e.support import healthy_state


async def test_a_system_administrator_is_recorded_without_a_warning(open_rig: OpenRig) -> None:
    rig = await open_rig(healthy_state())
    store = rig.runtime.store
    owner = await learn_owner(rig.runtime.connector, store, rig.connection.id)
    assert owner is not None
    stored = store.get(rig.connection.id)
    assert stored.owner == owner
    assert (owner.name, owner.email, owner.sys_admin) == ("Anna Ek", "anna@example.se", True)
    assert owner_line(stored) == "Anna Ek <anna@example.se>, a system administrator"
    assert not stored.depends_on_person
    assert owner_warning(stored) is None
    assert ("GET", "/3/me") in [(r["method"], r["path"]) for r in rig.sandbox.requests]


async def test_a_user_who_is_no_administrator_is_warned_about(open_rig: OpenRig) -> None:
    rig = await open_rig(load_scenario("access_denied"))
    store = rig.runtime.store
    owner = await learn_owner(rig.runtime.connector, store, rig.connection.id)
    assert owner is not None
    assert owner.sys_admin is False
    stored = store.get(rig.connection.id)
    assert stored.depends_on_person
    assert "not a system administrator" in owner_line(stored)
    warning = owner_warning(stored)
    assert warning is not None
    assert f"made by {owner.name}, who is not a system administrator" in warning.en
    assert f"gjordes av {owner.name}, som inte är systemadministratör" in warning.sv


async def test_without_the_profile_scope_the_owner_stays_unknown(open_rig: OpenRig) -> None:
    state = healthy_state()
    state.grants[0].scopes = ["bookkeeping", "companyinformation", "settings"]
    rig = await open_rig(state)
    store = rig.runtime.store
    assert await learn_owner(rig.runtime.connector, store, rig.connection.id) is None
    stored = store.get(rig.connection.id)
    assert stored.owner is None
    assert owner_line(stored) == "unknown (not learnt at consent)"
    assert owner_warning(stored) is None


def test_a_service_account_rests_on_no_person() -> None:
    connection = Connection(
        id="sa", label="SA", client_id="c", kind=ConnectionKind.SERVICE_ACCOUNT, tenant_id="1"
    )
    assert owner_line(connection) == "service account"
    assert not connection.depends_on_person
    assert owner_warning(connection) is None
