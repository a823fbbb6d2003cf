"""Claiming rows (integrations.claims) and leasing them (integrations.leases): a row is taken by one
claimer only, in order, at most ``limit`` at a time; on PostgreSQL (SKIP LOCKED) and through the
portable re-checking path that the embedded SQLite default uses."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import F, Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.claims import rows_claim, rows_claim_recheck, rows_claim_skip_locked, rows_take
from integrations.leases import RowLease
from sync.models import SyncRecordError, SyncRun
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db(transaction=True)

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL (make test starts one)"
)
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded default's path")

UNCLAIMED = Q(claimed_by="")
CLAIMERS = {"skip_locked": rows_claim_skip_locked, "recheck": rows_claim_recheck}


@pytest.fixture
def integration(db):
    return IntegrationFactory()


def make_rows(integration, n: int) -> list[int]:
    run = SyncRun.objects.create(subaccount=integration.subaccount, integration=integration)
    SyncRecordError.objects.bulk_create(
        SyncRecordError(run=run, integration=integration, entity="contact", direction="pull", message="x")
        for _ in range(n)
    )
    return list(SyncRecordError.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))


def claim_with(claim, name: str, *, limit: int, order_by=("pk",)) -> list[int]:
    return claim(
        SyncRecordError,
        where=UNCLAIMED,
        order_by=order_by,
        limit=limit,
        values={"claimed_by": name, "claimed_until": timezone.now() + timedelta(minutes=5)},
    )


def race(claim, *, claimers: int = 2, batch: int = 3) -> dict[str, list[int]]:
    """``claimers`` threads claim batches until nothing is left; what each got."""
    got: dict[str, list[int]] = {f"c{i}": [] for i in range(claimers)}
    errors: list[BaseException] = []
    start = threading.Barrier(claimers)

    def work(name: str) -> None:
        try:
            start.wait()
            while taken := claim_with(claim, name, limit=batch):
                got[name].extend(taken)
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=work, args=(name,)) for name in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return got


@pytest.mark.parametrize("claim", list(CLAIMERS.values()), ids=list(CLAIMERS))
def test_a_claim_takes_the_first_rows_in_order_up_to_the_limit_and_sets_the_columns(integration, claim):
    ids = make_rows(integration, 5)

    first = claim_with(claim, "a", limit=2, order_by=("-pk",))
    second = claim_with(claim, "b", limit=10)

    assert sorted(first) == ids[-2:]  # the order decides which rows: newest first here
    assert sorted(second) == ids[:3]  # the rest, fewer than the limit
    assert claim_with(claim, "c", limit=10) == []  # nothing matches any more
    owners = dict(SyncRecordError.objects.values_list("pk", "claimed_by"))
    assert owners == {**dict.fromkeys(ids[-2:], "a"), **dict.fromkeys(ids[:3], "b")}


@pytest.mark.parametrize("claim", list(CLAIMERS.values()), ids=list(CLAIMERS))
def test_a_claim_stays_within_its_queryset_and_sets_expressions(integration, claim):
    mine, theirs = make_rows(integration, 2), make_rows(IntegrationFactory(), 2)
    claimed = claim(
        SyncRecordError.objects.filter(integration=integration),
        where=Q(resolved=False),
        order_by=("pk",),
        limit=10,
        values={"attempts": F("attempts") + 4},
    )
    assert sorted(claimed) == mine
    attempts = dict(SyncRecordError.objects.values_list("pk", "attempts"))
    assert attempts == {**dict.fromkeys(mine, 5), **dict.fromkeys(theirs, 1)}


def test_a_zero_limit_claims_nothing(integration):
    make_rows(integration, 2)
    assert claim_with(rows_claim, "a", limit=0) == []
    assert not SyncRecordError.objects.exclude(claimed_by="").exists()


@postgresql_only
def test_rows_claim_is_one_skip_locked_update_on_postgresql(integration):
    make_rows(integration, 3)
    with CaptureQueriesContext(connection) as queries:
        assert len(claim_with(rows_claim, "a", limit=2)) == 2
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]
    [update] = statements
    assert update.startswith("UPDATE") and "FOR UPDATE" in update and "SKIP LOCKED" in update


@postgresql_only
@pytest.mark.parametrize("claim", list(CLAIMERS.values()), ids=list(CLAIMERS))
def test_concurrent_claimers_never_get_the_same_row_on_postgresql(integration, claim):
    ids = make_rows(integration, 60)

    got = race(claim, claimers=3)

    taken = [pk for batch in got.values() for pk in batch]
    assert sorted(taken) == ids  # every row once, none twice
    owners = dict(SyncRecordError.objects.values_list("pk", "claimed_by"))
    assert all(owners[pk] == name for name, batch in got.items() for pk in batch)


@sqlite_only
def test_rows_claim_rechecks_on_sqlite_and_concurrent_claimers_never_share_a_row(integration):
    ids = make_rows(integration, 30)
    assert not connection.features.has_select_for_update_skip_locked  # so rows_claim takes the fallback

    got = race(rows_claim)

    taken = [pk for batch in got.values() for pk in batch]
    assert sorted(taken) == ids
    owners = dict(SyncRecordError.objects.values_list("pk", "claimed_by"))
    assert all(owners[pk] == name for name, batch in got.items() for pk in batch)


# --- takes (a queue consumed by deleting) ----------------------------------------------------------


def test_a_take_deletes_and_returns_the_first_rows_in_order_and_a_rollback_puts_them_back(integration):
    ids = make_rows(integration, 5)

    assert rows_take(SyncRecordError, limit=2, fields=("pk", "message")) == [(ids[0], "x"), (ids[1], "x")]
    assert sorted(SyncRecordError.objects.values_list("pk", flat=True)) == ids[2:]
    with pytest.raises(RuntimeError), transaction.atomic():
        assert [row[0] for row in rows_take(SyncRecordError, limit=10, fields=("pk",))] == ids[2:]
        raise RuntimeError("the taker fails before it has done its work")
    assert sorted(SyncRecordError.objects.values_list("pk", flat=True)) == ids[2:]
    assert rows_take(SyncRecordError, limit=0, fields=("pk",)) == []


def take(model, *, where, order_by, limit, values) -> list[int]:
    """``rows_take`` in a claimer's clothes, for ``race``: it takes from the head of the queue."""
    return [pk for (pk,) in rows_take(model, limit=limit, fields=("pk",))]


def test_concurrent_takers_never_get_the_same_row(integration):
    ids = make_rows(integration, 40)

    got = race(take, claimers=3)

    assert sorted(pk for batch in got.values() for pk in batch) == ids  # every row once, none twice
    assert not SyncRecordError.objects.exists()


# --- leases -------------------------------------------------------------------------------------

TOKEN_LOCK = RowLease(owner="token_lock_owner", expires="token_lock_until")


def test_a_lease_is_held_by_one_owner_until_released_or_expired(integration):
    row = type(integration).objects.filter(pk=integration.pk)

    assert TOKEN_LOCK.is_free(row)
    assert TOKEN_LOCK.take(row, owner="a", ttl=timedelta(minutes=1))
    assert not TOKEN_LOCK.take(row, owner="b", ttl=timedelta(minutes=1))
    assert not TOKEN_LOCK.take(row, owner="a", ttl=timedelta(minutes=1))  # not re-entrant by default
    assert TOKEN_LOCK.take(row, owner="a", ttl=timedelta(minutes=1), reentrant=True)
    assert not TOKEN_LOCK.is_free(row)
    assert not TOKEN_LOCK.renew(row, owner="b", ttl=timedelta(minutes=1))
    assert not TOKEN_LOCK.release(row, owner="b")
    assert TOKEN_LOCK.release(row, owner="a")
    assert TOKEN_LOCK.is_free(row)

    assert TOKEN_LOCK.take(row, owner="b", ttl=timedelta(seconds=-1))  # already expired
    assert TOKEN_LOCK.is_free(row)
    assert TOKEN_LOCK.take(row, owner="c", ttl=timedelta(minutes=1))
    assert not TOKEN_LOCK.renew(row, owner="b", ttl=timedelta(minutes=1))  # b lost it
    assert TOKEN_LOCK.renew(row, owner="c", ttl=timedelta(minutes=1))
    integration.refresh_from_db()
    assert integration.token_lock_owner == "c" and integration.token_lock_until > timezone.now()
