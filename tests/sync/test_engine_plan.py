"""The pull's two steps: ``plan_page`` decides without the database, ``apply_pull_page`` writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.base import RemoteRecord
from sync import hooks
from sync.engine import EntityContext, apply_pull_page, plan_page
from sync.matching import MatchIndex
from sync.models import Change, Conflict, Contact, EntityLink
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)
WHEN = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def ctx(catalog, subaccount, sandbox_url) -> EntityContext:
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, direction="inbound")
    return EntityContext.build(integration, "contact")


def remote(rid: str, email: str, name: str) -> RemoteRecord:
    return RemoteRecord(id=rid, modified_at=WHEN, fields={"email": email, "firstname": name})


def test_two_remote_records_with_one_email_link_one_to_one(ctx, subaccount):
    existing = Contact.objects.create(subaccount=subaccount, email="ana@example.com", first_name="Ana")

    outcome = apply_pull_page(
        ctx,
        [
            remote("1", "ana@example.com", "Ana"),
            remote("2", "ana@example.com", "Ana B"),
            remote("3", "zed@example.com", "Zed"),  # two new ones sharing an email
            remote("4", "zed@example.com", "Zed B"),
        ],
        cursor=None,
        run=None,
    )

    links = dict(EntityLink.objects.filter(integration=ctx.integration).values_list("remote_id", "local_id"))
    assert links["1"] == existing.pk  # the first matches the local record by email
    assert links["2"] != existing.pk  # the second is a person of its own, not a second link to it
    assert Contact.objects.get(pk=links["2"]).first_name == "Ana B"
    assert links["3"] != links["4"]
    assert (outcome.created, outcome.failed) == (3, 0)


def test_plan_page_decides_without_a_query_and_writes_nothing(ctx, subaccount, django_assert_num_queries):
    kept = Contact.objects.create(subaccount=subaccount, email="kept@example.com", first_name="Old")
    link = EntityLink.objects.create(
        integration=ctx.integration,
        entity="contact",
        local_id=kept.pk,
        remote_id="10",
        base={"email": "kept@example.com", "first_name": "Old"},
    )
    newest = {"10": remote("10", "kept@example.com", "New"), "11": remote("11", "new@example.com", "Bo")}
    mapped = {
        "10": {"email": "kept@example.com", "first_name": "New"},
        "11": {"email": "new@example.com", "first_name": "Bo"},
    }
    matches = MatchIndex(ctx.definition.match_fields, live_only=True)

    with django_assert_num_queries(0):
        plan = plan_page(
            ctx, newest, mapped, links={"10": link}, objs={kept.pk: kept}, matches=matches, linked=set()
        )

    assert [o.first_name for o in plan.updated] == ["New"] and plan.columns == {"first_name"}
    assert [o.email for o in plan.created] == ["new@example.com"]
    assert [(op, fields) for _, op, fields in plan.changes][0] == ("update", ["first_name"])
    assert (plan.outcome.updated, plan.outcome.created) == (1, 1)
    assert Contact.objects.get(pk=kept.pk).first_name == "Old" and not Change.objects.exists()


def _both_sides_changed(ctx, subaccount, count: int) -> list[RemoteRecord]:
    """``count`` linked contacts whose first name changed here and at the provider since the base."""
    records = []
    for n in range(count):
        local = Contact.objects.create(subaccount=subaccount, email=f"p{n}@example.com", first_name="Mine")
        EntityLink.objects.create(
            integration=ctx.integration,
            entity="contact",
            local_id=local.pk,
            remote_id=str(100 + n),
            base={"email": f"p{n}@example.com", "first_name": "Agreed"},
        )
        records.append(remote(str(100 + n), f"p{n}@example.com", "Theirs"))
    return records


def test_a_conflict_settled_by_the_strategy_is_recorded_resolved_and_not_announced(ctx, subaccount):
    ctx.strategy = "newest_wins"
    records = _both_sides_changed(ctx, subaccount, 1)  # edited here now, at the provider on WHEN
    announced = []

    def listen(sender, *, conflicts, **kwargs):
        announced.extend(conflicts)

    hooks.conflicts_detected.connect(listen)
    try:
        outcome = apply_pull_page(ctx, records, cursor=None, run=None)
    finally:
        hooks.conflicts_detected.disconnect(listen)

    row = Conflict.objects.get()
    assert (row.status, row.resolution, row.resolved_by, row.field) == (
        "resolved",
        "local",
        "strategy:newest_wins",
        "first_name",
    )
    assert (row.local_value, row.remote_value, row.base_value, row.resolved_value) == (
        "Mine",
        "Theirs",
        "Agreed",
        "Mine",
    )
    assert row.resolved_at is not None
    assert announced == [] and outcome.conflicts == 0
    assert Contact.objects.get().first_name == "Mine"  # kept; the push phase sends it


def test_crm_wins_records_the_overwritten_local_value(ctx, subaccount):
    ctx.strategy = "crm_wins"
    records = _both_sides_changed(ctx, subaccount, 2)
    apply_pull_page(ctx, records, cursor=None, run=None)
    rows = Conflict.objects.order_by("remote_id")
    assert [(r.resolution, r.local_value, r.resolved_value, r.resolved_by) for r in rows] == [
        ("remote", "Mine", "Theirs", "strategy:crm_wins")
    ] * 2
    assert set(Contact.objects.values_list("first_name", flat=True)) == {"Theirs"}


def test_manual_conflicts_still_open_and_are_announced(ctx, subaccount):
    ctx.strategy = "manual"
    announced = []

    def listen(sender, *, conflicts, **kwargs):
        announced.extend(conflicts)

    hooks.conflicts_detected.connect(listen)
    try:
        apply_pull_page(ctx, _both_sides_changed(ctx, subaccount, 1), cursor=None, run=None)
    finally:
        hooks.conflicts_detected.disconnect(listen)
    assert [(c.status, c.resolved_by) for c in announced] == [("open", "")]


def test_settled_conflicts_cost_the_same_statements_for_one_record_or_many(ctx, subaccount):
    ctx.strategy = "crm_wins"
    one = _both_sides_changed(ctx, subaccount, 1)
    with CaptureQueriesContext(connection) as first:
        apply_pull_page(ctx, one, cursor=None, run=None)
    Contact.objects.all().delete()
    EntityLink.objects.all().delete()
    many = _both_sides_changed(ctx, subaccount, 8)
    with CaptureQueriesContext(connection) as second:
        apply_pull_page(ctx, many, cursor=None, run=None)
    assert len(second.captured_queries) == len(first.captured_queries)
    assert Conflict.objects.filter(status="resolved").count() == 9
