"""The token manager: one refresh at a time, rotated tokens stored before use, honest deaths."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from remediator.fortnox import (
    ConsentRequired,
    FortnoxConnector,
    ReconnectCause,
    StoreRetry,
    TokenError,
    Unauthorized,
)
from remediator.fortnox._tokens import TokenManager
from remediator.settings import Settings
from remediator.storage import (
    Connection,
    ConnectionKind,
    ConnectionStatus,
    ConnectionStore,
    Database,
    TokenSet,
)
from remediator.storage.db import connections
from tests.conftest import API, connection
from tests.fortnox.conftest import TOKEN_URL, Recorder, invalid_grant, jwt, token_response

UNAUTHORIZED = httpx.Response(401, json={"message": "unauthorized"})
ME = httpx.Response(200, json={"MeInformation": {"Id": "1"}})


@respx.mock
async def test_a_valid_token_is_used_without_refreshing(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=3600))
    refresh = respx.post(TOKEN_URL)
    assert await connector.tokens("rest-1").access_token() == SecretStr("access-token-old")
    assert refresh.call_count == 0


@respx.mock
async def test_a_valid_token_read_moments_ago_is_handed_out_without_reading_storage(
    connector: FortnoxConnector, store: ConnectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add(connection(valid_for=3600))
    reads: list[str] = []
    read = store.get

    def counted(connection_id: str) -> Connection:
        reads.append(connection_id)
        return read(connection_id)

    monkeypatch.setattr(store, "get", counted)
    tokens = connector.tokens("rest-1")
    assert await tokens.access_token() == SecretStr("access-token-old")
    assert await tokens.access_token() == SecretStr("access-token-old")
    assert reads == []  # ``add`` read it; writes through the store are seen at once
    store.mark_needs_reconnect("rest-1", "elsewhere")
    with pytest.raises(ConsentRequired):
        await tokens.access_token()
    assert reads == ["rest-1"]


@respx.mock
async def test_a_token_another_process_replaced_is_seen_once_the_read_is_old(
    connector: FortnoxConnector, store: ConnectionStore, settings: Settings
) -> None:
    store.add(connection(valid_for=3600))
    other = ConnectionStore(Database(settings.database_url), store._cipher)
    other.save_tokens(
        "rest-1", TokenSet(access_token=SecretStr("newer"), expires_at=time.time() + 3600)
    )
    assert await connector.tokens("rest-1").access_token() == SecretStr("access-token-old")
    fresh = TokenManager(store, connector.oauth, "rest-1", locks=connector.locks, recent_seconds=0)
    assert await fresh.access_token() == SecretStr("newer")


@respx.mock
async def test_refreshes_when_under_five_minutes_are_left(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=299))
    new = jwt()
    route = respx.post(TOKEN_URL).mock(return_value=token_response(new, "refresh-token-2"))
    assert (await connector.tokens("rest-1").access_token()).get_secret_value() == new
    assert "refresh_token=refresh-token-1" in route.calls.last.request.content.decode()
    stored = store.get("rest-1")
    assert stored.refresh_token == SecretStr("refresh-token-2")
    assert stored.last_refresh_at is not None


@respx.mock
async def test_a_refresh_after_a_recent_read_costs_three_writes_and_no_further_read(
    connector: FortnoxConnector, store: ConnectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock is taken with the connection read back in the same statement, and the store
    of the rotated tokens lets it go and is remembered: no read before or after, no unlock."""
    store.add(connection(valid_for=-10))  # ``add`` read it: a recent read says "expired"
    calls: list[str] = []
    for name in ("get", "try_lock", "mark_refreshing", "store_refreshed", "unlock"):
        method = getattr(store, name)

        def counted(
            *args: object, _name: str = name, _method: object = method, **kwargs: object
        ) -> object:
            calls.append(_name)
            return _method(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(store, name, counted)
    new = jwt()
    respx.post(TOKEN_URL).mock(return_value=token_response(new, "refresh-token-2"))
    tokens = connector.tokens("rest-1")
    assert (await tokens.access_token()).get_secret_value() == new
    assert (await tokens.access_token()).get_secret_value() == new  # the stored answer, kept
    assert calls == ["try_lock", "mark_refreshing", "store_refreshed"]
    assert store.try_lock("rest-1", "another-process", lease_seconds=30)  # it was let go


@respx.mock
async def test_the_rotated_refresh_token_is_stored_before_the_new_access_token_is_used(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10))
    new = jwt()
    respx.post(TOKEN_URL).mock(return_value=token_response(new, "refresh-token-2"))
    seen_in_store: list[SecretStr | None] = []

    def api(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {new}"
        seen_in_store.append(store.get("rest-1").refresh_token)
        return ME

    respx.get(f"{API}/me").mock(side_effect=api)
    await connector.client(store.get("rest-1"), read_only=True).me()
    assert seen_in_store == [SecretStr("refresh-token-2")]


@respx.mock
async def test_fifty_concurrent_tasks_make_exactly_one_token_request(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10))
    new = jwt()

    async def slow_token(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return token_response(new)

    route = respx.post(TOKEN_URL).mock(side_effect=slow_token)
    respx.get(f"{API}/me").mock(return_value=ME)
    client = connector.client(store.get("rest-1"), read_only=True)
    await asyncio.gather(*(client.me() for _ in range(50)))
    assert route.call_count == 1


@respx.mock
async def test_invalid_grant_after_someone_else_refreshed_does_not_kill_the_connection(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10, refresh="refresh-token-1"))
    newer = jwt(jti="other")

    def other_party_refreshed_first(_: httpx.Request) -> httpx.Response:
        # Another process rotated the token between our read and our refresh.
        store.save_tokens(
            "rest-1",
            TokenSet(
                access_token=SecretStr(newer),
                expires_at=time.time() + 3600,
                refresh_token=SecretStr("refresh-token-2"),
            ),
        )
        return invalid_grant()

    respx.post(TOKEN_URL).mock(side_effect=other_party_refreshed_first)
    token = await connector.tokens("rest-1").access_token()
    assert token.get_secret_value() == newer
    assert store.get("rest-1").status is ConnectionStatus.ACTIVE


@respx.mock
async def test_a_real_invalid_grant_marks_the_connection_and_raises_consent_required(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10))
    route = respx.post(TOKEN_URL).mock(return_value=invalid_grant())
    with pytest.raises(ConsentRequired, match="re-authorized"):
        await connector.tokens("rest-1").access_token()
    stored = store.get("rest-1")
    assert stored.status is ConnectionStatus.NEEDS_RECONNECT
    assert "invalid_grant" in (stored.status_reason or "")
    with pytest.raises(ConsentRequired, match="needs to be reconnected"):
        await connector.tokens("rest-1").access_token()
    assert route.call_count == 1  # a dead connection is not refreshed again


@respx.mock
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(401, json={"error": "invalid_client"}),
        httpx.Response(500),
        httpx.ConnectError("down"),
    ],
    ids=["invalid_client", "500", "network"],
)
async def test_other_token_errors_never_mark_the_connection_dead(
    connector: FortnoxConnector, store: ConnectionStore, answer: httpx.Response | Exception
) -> None:
    store.add(connection(valid_for=-10))
    respx.post(TOKEN_URL).mock(side_effect=[answer])
    with pytest.raises(TokenError) as caught:
        await connector.tokens("rest-1").access_token()
    assert not isinstance(caught.value, ConsentRequired)
    assert store.get("rest-1").status is ConnectionStatus.ACTIVE
    assert store.get("rest-1").refresh_token == SecretStr("refresh-token-1")


@respx.mock
async def test_a_401_triggers_one_refresh_and_one_resend(
    connector: FortnoxConnector, store: ConnectionStore, recorder: Recorder
) -> None:
    store.add(connection(valid_for=3600))
    new = jwt()
    refresh = respx.post(TOKEN_URL).mock(return_value=token_response(new))
    me = respx.get(f"{API}/me").mock(side_effect=[UNAUTHORIZED, ME])
    assert (await connector.client(store.get("rest-1"), read_only=True).me()).id == "1"
    assert refresh.call_count == 1
    assert me.call_count == 2
    assert me.calls.last.request.headers["Authorization"] == f"Bearer {new}"
    assert [r.status for r in recorder.api()] == [401, 200]


@respx.mock
async def test_a_second_401_does_not_loop(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=3600))
    refresh = respx.post(TOKEN_URL).mock(return_value=token_response(jwt()))
    me = respx.get(f"{API}/me").mock(return_value=UNAUTHORIZED)
    with pytest.raises(Unauthorized):
        await connector.client(store.get("rest-1"), read_only=True).me()
    assert (refresh.call_count, me.call_count) == (1, 2)


@respx.mock
async def test_a_401_after_another_task_refreshed_uses_the_stored_token(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=3600))
    refresh = respx.post(TOKEN_URL)
    newer = jwt(jti="newer")

    def first_rejected(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer access-token-old":
            store.save_tokens(
                "rest-1",
                TokenSet(
                    access_token=SecretStr(newer),
                    expires_at=time.time() + 3600,
                    refresh_token=SecretStr("refresh-token-2"),
                ),
            )
            return UNAUTHORIZED
        return ME

    respx.get(f"{API}/me").mock(side_effect=first_rejected)
    await connector.client(store.get("rest-1"), read_only=True).me()
    assert refresh.call_count == 0


@respx.mock
async def test_a_service_account_uses_client_credentials(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(
        connection(valid_for=-10, refresh=None).model_copy(
            update={"kind": ConnectionKind.SERVICE_ACCOUNT}
        )
    )
    route = respx.post(TOKEN_URL).mock(return_value=token_response(jwt(), refresh=None))
    await connector.tokens("rest-1").access_token()
    assert route.calls.last.request.headers["TenantId"] == "111111"
    assert store.get("rest-1").refresh_token is None


async def test_no_refresh_token_means_consent_required(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10, refresh=None))  # had tokens once; the refresh is gone
    with pytest.raises(ConsentRequired, match="connect it first"):
        await connector.tokens("rest-1").access_token()
    assert store.get("rest-1").status is ConnectionStatus.NEEDS_RECONNECT


async def test_a_connection_never_authorized_is_not_declared_dead(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(access=None, refresh=None))
    assert store.get("rest-1").status is ConnectionStatus.NOT_AUTHORIZED
    with pytest.raises(ConsentRequired, match="is not authorized yet: run") as caught:
        await connector.tokens("rest-1").access_token()
    assert caught.value.error == "not_authorized"
    assert store.get("rest-1").status is ConnectionStatus.NOT_AUTHORIZED
    assert store.get("rest-1").status_reason is None


async def test_a_lock_held_by_a_live_process_is_waited_for(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10))
    started = time.monotonic()  # before the other lease is taken: it runs out 0.3 s after this
    assert store.try_lock("rest-1", "other-process", lease_seconds=0.3)
    with respx.mock:
        respx.post(TOKEN_URL).mock(return_value=token_response(jwt()))
        await connector.tokens("rest-1").access_token()
    assert time.monotonic() - started >= 0.25  # waited for the other lease to run out


@respx.mock
async def test_refresh_in_progress_is_marked_in_the_database_before_fortnox_is_called(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10))
    seen: list[float | None] = []

    def token_endpoint(_: httpx.Request) -> httpx.Response:
        row = ConnectionStore(store._db, store._cipher).get("rest-1")  # as another process
        seen.append(row.refresh_started_at)
        return token_response(jwt(), "refresh-token-2")

    respx.post(TOKEN_URL).mock(side_effect=token_endpoint)
    await connector.tokens("rest-1").access_token()
    assert len(seen) == 1
    assert seen[0] is not None
    after = store.get("rest-1")
    assert after.refresh_started_at is None  # cleared with the rotated token
    assert after.refresh_token == SecretStr("refresh-token-2")


@respx.mock
async def test_a_rotated_token_is_not_stored_once_another_process_took_the_lock(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10))

    def lock_taken_over(_: httpx.Request) -> httpx.Response:
        # Our lease ran out during a slow token call and another process took the lock.
        with store._db.engine.begin() as conn:
            conn.execute(
                connections.update()
                .where(connections.c.id == "rest-1")
                .values(lock_owner="another-process", lock_until=time.time() + 60)
            )
        return token_response(jwt(), "refresh-token-2")

    respx.post(TOKEN_URL).mock(side_effect=lock_taken_over)
    with pytest.raises(TokenError) as caught:
        await connector.tokens("rest-1").access_token()
    assert caught.value.error == "lock_lost"
    assert store.get("rest-1").refresh_token == SecretStr("refresh-token-1")  # nothing written


@respx.mock
async def test_a_token_answer_without_a_refresh_token_is_refused_and_nothing_stored(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10))
    respx.post(TOKEN_URL).mock(return_value=token_response(jwt(), refresh=None))
    with pytest.raises(TokenError) as caught:
        await connector.tokens("rest-1").access_token()
    assert not isinstance(caught.value, ConsentRequired)
    assert caught.value.error == "refresh_token_missing"
    kept = store.get("rest-1")
    assert (kept.status, kept.refresh_token, kept.access_token) == (
        ConnectionStatus.ACTIVE,
        SecretStr("refresh-token-1"),
        SecretStr("access-token-old"),
    )
    assert (kept.refresh_expires_at, kept.refresh_started_at) == (None, None)


@respx.mock
async def test_a_failed_store_is_retried_and_a_store_that_never_works_leaves_the_mark(
    connector: FortnoxConnector, store: ConnectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add(connection(valid_for=-10))
    respx.post(TOKEN_URL).mock(
        side_effect=[token_response(jwt(), "refresh-token-2"), invalid_grant()]
    )
    connector.store_retry = StoreRetry(attempts=3, initial_wait=0.001, max_wait=0.001)
    calls: list[int] = []

    def broken(*_: object) -> None:
        calls.append(1)
        raise OperationalError("UPDATE connections", {}, Exception("disk I/O error"))

    monkeypatch.setattr(store, "store_refreshed", broken)
    with pytest.raises(TokenError) as caught:
        await connector.tokens("rest-1").access_token()
    assert (len(calls), caught.value.error) == (3, "store_failed")
    assert "refresh-token-2" not in str(caught.value)
    assert store.get("rest-1").refresh_started_at is not None
    monkeypatch.undo()
    with pytest.raises(ConsentRequired) as lost:
        await connector.tokens("rest-1").access_token()
    assert lost.value.cause is ReconnectCause.LOST
    dead = store.get("rest-1")
    assert (dead.status, dead.status_cause, dead.refresh_started_at) == (
        ConnectionStatus.NEEDS_RECONNECT,
        ReconnectCause.LOST,
        None,
    )


@respx.mock
async def test_invalid_grant_without_a_refresh_left_in_progress_is_fortnox_s_doing(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10))
    respx.post(TOKEN_URL).mock(return_value=invalid_grant())
    with pytest.raises(ConsentRequired) as caught:
        await connector.tokens("rest-1").access_token()
    assert caught.value.cause is ReconnectCause.INVALIDATED
    assert store.get("rest-1").status_cause is ReconnectCause.INVALIDATED


@respx.mock
async def test_a_refused_token_request_clears_the_mark_and_a_network_error_keeps_it(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=-10))
    respx.post(TOKEN_URL).mock(
        side_effect=[httpx.Response(401, json={"error": "invalid_client"}), httpx.ReadTimeout("")]
    )
    with pytest.raises(TokenError):
        await connector.tokens("rest-1").access_token()
    assert store.get("rest-1").refresh_started_at is None  # answered: nothing rotated
    with pytest.raises(TokenError):
        await connector.tokens("rest-1").access_token()
    assert store.get("rest-1").refresh_started_at is not None  # it may have rotated


async def test_refresh_now_does_not_try_a_connection_already_marked_dead(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    store.add(connection(valid_for=3600))
    store.mark_needs_reconnect("rest-1", "lost earlier", ReconnectCause.LOST)
    with respx.mock:
        route = respx.post(TOKEN_URL)
        with pytest.raises(ConsentRequired) as caught:
            await connector.tokens("rest-1").refresh_now()
        assert route.call_count == 0
    assert caught.value.cause is ReconnectCause.LOST
