"""The pull's two steps: ``plan_page`` decides without the database, ``apply_pull_page`` writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import RemoteRecord
from sync.engine import EntityContext, apply_pull_page, plan_page
from sync.matching import MatchIndex
from sync.models import Change, Contact, EntityLink
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
