"""Relations as first-class changes: pulled through links, kept pending until their target
arrives, merged three-way (conflicts included), pushed as relation adds and removes, relinked
when a remote record is replaced (a converted lead)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import CANONICAL_RELATIONS, RELATIONS_KEY, RemoteRecord, WriteResult
from integrations.models import SubAccount
from sync.conflicts import conflict_resolve
from sync.engine import EntityContext, apply_pull_page, push_records
from sync.models import Change, Company, Conflict, Contact, Deal, EntityLink, PendingRelation
from sync.services import record_update
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)
WHEN = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def integration(catalog, subaccount, sandbox_url):
    return sandbox_integration(subaccount, "hubspot", sandbox_url, conflict_strategy="manual")


def context(integration, entity: str) -> EntityContext:
    """The entity's context with every canonical relation synced (whatever the connector says)."""
    ctx = EntityContext.build(integration, entity)
    return replace(ctx, relations=dict(CANONICAL_RELATIONS[entity]))


def company(rid: str, name: str, when: datetime = WHEN) -> RemoteRecord:
    return RemoteRecord(id=rid, modified_at=when, fields={"name": name})


def deal(rid: str, name: str, when: datetime = WHEN, **relations: tuple[str, ...]) -> RemoteRecord:
    return RemoteRecord(id=rid, modified_at=when, fields={"dealname": name}, relations=relations)


def contact(rid: str, email: str, when: datetime = WHEN, **relations) -> RemoteRecord:
    return RemoteRecord(id=rid, modified_at=when, fields={"email": email}, relations=relations)


def pull(integration, entity: str, *records: RemoteRecord):
    return apply_pull_page(context(integration, entity), list(records), cursor=None, run=None)


def local(integration, entity: str, rid: str):
    link = EntityLink.objects.get(integration=integration, entity=entity, remote_id=rid)
    return {"company": Company, "contact": Contact, "deal": Deal}[entity].objects.get(pk=link.local_id)


def test_a_relation_resolves_through_the_targets_link(integration):
    pull(integration, "company", company("c1", "Acme"))
    pull(integration, "deal", deal("d1", "Big", company_id=("c1",)))

    assert local(integration, "deal", "d1").company == local(integration, "company", "c1")
    assert not PendingRelation.objects.exists()


def test_a_deal_pulled_before_its_company_resolves_when_the_company_arrives(integration):
    pull(integration, "deal", deal("d1", "Big", company_id=("c1",)))
    stored = local(integration, "deal", "d1")
    assert stored.company_id is None  # unknown for now, not dropped:
    pending = PendingRelation.objects.get()
    assert (pending.relation, pending.target, pending.remote_ids) == ("company_id", "company", ["c1"])

    outcome = pull(integration, "company", company("c1", "Acme"))

    stored.refresh_from_db()
    assert stored.company == local(integration, "company", "c1")
    assert outcome.updated == 1 and not PendingRelation.objects.exists()
    change = Change.objects.filter(entity="deal", record_id=stored.pk).last()
    assert (change.op, change.fields, change.origin) == (
        "update",
        ["company_id"],
        f"integration:{integration.pk}",
    )
    link = EntityLink.objects.get(integration=integration, entity="deal", remote_id="d1")
    assert link.base["company_id"] == str(stored.company_id)  # agreed: nothing to push back


def test_a_to_many_relation_applies_what_resolves_and_waits_for_the_rest(integration):
    pull(integration, "contact", contact("p1", "ana@example.com"))
    pull(integration, "deal", deal("d1", "Big", contact_ids=("p1", "p2")))
    stored = local(integration, "deal", "d1")
    assert stored.contact_ids == [local(integration, "contact", "p1").pk]
    assert PendingRelation.objects.get().remote_ids == ["p2"]

    pull(integration, "contact", contact("p2", "bo@example.com"))

    stored = Deal.objects.get(pk=stored.pk)
    assert stored.contact_ids == sorted(
        [local(integration, "contact", "p1").pk, local(integration, "contact", "p2").pk]
    )
    assert not PendingRelation.objects.exists()


def test_a_record_that_says_what_it_points_at_now_drops_what_was_pending(integration):
    pull(integration, "deal", deal("d1", "Big", company_id=("c1",)))
    pull(integration, "deal", deal("d1", "Big", WHEN + timedelta(minutes=1), company_id=()))

    assert not PendingRelation.objects.exists()
    assert local(integration, "deal", "d1").company_id is None


def test_a_relation_changed_on_both_sides_is_a_conflict(integration, subaccount):
    pull(integration, "company", company("c1", "Acme"), company("c2", "Beta"), company("c3", "Gamma"))
    pull(integration, "deal", deal("d1", "Big", company_id=("c1",)))
    stored = local(integration, "deal", "d1")
    record_update(
        record=stored, fields={"company_id": local(integration, "company", "c2").pk}, origin="api_key:x"
    )

    outcome = pull(integration, "deal", deal("d1", "Big", WHEN + timedelta(minutes=1), company_id=("c3",)))

    assert outcome.conflicts == 1
    conflict = Conflict.objects.get(field="company_id")
    assert conflict.local_value == str(local(integration, "company", "c2").pk)
    assert conflict.remote_value == str(local(integration, "company", "c3").pk)
    assert conflict.base_value == str(local(integration, "company", "c1").pk)
    assert Deal.objects.get(pk=stored.pk).company == local(
        integration, "company", "c2"
    )  # kept until resolved

    conflict_resolve(conflict=conflict, choice="remote", actor="test")
    assert Deal.objects.get(pk=stored.pk).company == local(integration, "company", "c3")


def test_a_custom_relation_value_must_be_a_record_of_the_same_sub_account(integration, subaccount):
    pull(integration, "company", company("c1", "Acme"), company("c2", "Beta"), company("c3", "Gamma"))
    pull(integration, "deal", deal("d1", "Big", company_id=("c1",)))
    stored = local(integration, "deal", "d1")
    record_update(
        record=stored, fields={"company_id": local(integration, "company", "c2").pk}, origin="api_key:x"
    )
    pull(integration, "deal", deal("d1", "Big", WHEN + timedelta(minutes=1), company_id=("c3",)))
    conflict = Conflict.objects.get(field="company_id")
    other = SubAccount.objects.create(name="Other", slug="other")
    foreign = Company.objects.create(subaccount=other, name="Not yours")

    with pytest.raises(ValueError, match="no record with id"):
        conflict_resolve(conflict=conflict, choice="custom", value=foreign.pk, actor="test")

    conflict_resolve(
        conflict=conflict, choice="custom", value=local(integration, "company", "c1").pk, actor="t"
    )
    assert Deal.objects.get(pk=stored.pk).company == local(integration, "company", "c1")


def test_newest_wins_settles_a_relation_and_records_what_it_overwrote(catalog, subaccount, sandbox_url):
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, conflict_strategy="newest_wins")
    pull(integration, "company", company("c1", "Acme"), company("c2", "Beta"), company("c3", "Gamma"))
    pull(integration, "deal", deal("d1", "Big", company_id=("c1",)))
    stored = local(integration, "deal", "d1")
    record_update(
        record=stored, fields={"company_id": local(integration, "company", "c2").pk}, origin="api_key:x"
    )

    pull(integration, "deal", deal("d1", "Big", datetime.now(UTC) + timedelta(hours=1), company_id=("c3",)))

    assert Deal.objects.get(pk=stored.pk).company == local(integration, "company", "c3")
    settled = Conflict.objects.get(field="company_id")
    assert (settled.status, settled.resolved_by) == ("resolved", "strategy:newest_wins")


class Recorder:
    """A connector stand-in for push: records what it was asked to write, answers like a provider."""

    batch_size = 100

    def __init__(self, *, failing: tuple[str, ...] = ()):
        self.created: list[dict] = []
        self.updated: list[tuple[str, dict]] = []
        self.failing = failing

    @staticmethod
    def chunks(items, size):
        for start in range(0, len(items), size):
            yield start, items[start : start + size]

    def create(self, entity, records):
        self.created += records
        return [self._result(i, f"new-{len(self.created)}-{i}", r) for i, r in enumerate(records)]

    def update(self, entity, records):
        self.updated += records
        return [self._result(i, rid, fields) for i, (rid, fields) in enumerate(records)]

    def _result(self, index, remote_id, fields):
        failed = tuple(name for name in fields.get(RELATIONS_KEY, {}) if name in self.failing)
        return WriteResult(
            index=index,
            ok=True,
            remote_id=remote_id,
            relations_failed=failed,
            relations_error="nope" if failed else "",
        )


def test_a_local_relation_change_is_pushed_as_an_add_and_a_remove(integration):
    pull(integration, "company", company("c1", "Acme"), company("c2", "Beta"))
    pull(integration, "deal", deal("d1", "Big", company_id=("c1",)))
    stored = local(integration, "deal", "d1")
    record_update(
        record=stored, fields={"company_id": local(integration, "company", "c2").pk}, origin="api_key:x"
    )
    connector = Recorder()

    outcome = push_records(context(integration, "deal"), connector, [stored.pk], run=None)

    assert outcome.pushed == 1
    assert connector.updated == [("d1", {RELATIONS_KEY: {"company_id": {"add": ["c2"], "remove": ["c1"]}}})]
    link = EntityLink.objects.get(integration=integration, entity="deal", remote_id="d1")
    assert link.base["company_id"] == str(local(integration, "company", "c2").pk)
    # sent once: the same state again sends nothing
    assert push_records(context(integration, "deal"), connector, [stored.pk], run=None).unchanged == 1


def test_a_create_carries_its_relations_and_a_refused_one_is_sent_again(integration, subaccount):
    pull(integration, "company", company("c1", "Acme"))
    new = Deal.objects.create(
        subaccount=subaccount, name="Fresh", company=local(integration, "company", "c1")
    )
    connector = Recorder(failing=("company_id",))

    outcome = push_records(context(integration, "deal"), connector, [new.pk], run=None)

    assert connector.created[0][RELATIONS_KEY] == {"company_id": {"add": ["c1"], "remove": []}}
    assert outcome.errors and outcome.errors[0][2] == "relation"
    link = EntityLink.objects.get(integration=integration, entity="deal", local_id=new.pk)
    assert "company_id" not in link.base  # not on the provider yet: the next push tries again
    retry = Recorder()
    push_records(context(integration, "deal"), retry, [new.pk], run=None)
    assert retry.updated == [(link.remote_id, {RELATIONS_KEY: {"company_id": {"add": ["c1"], "remove": []}}})]


def test_a_relation_to_a_record_not_on_the_provider_yet_waits(integration, subaccount):
    unsynced = Company.objects.create(subaccount=subaccount, name="Local only")
    new = Deal.objects.create(subaccount=subaccount, name="Fresh", company=unsynced)
    connector = Recorder()

    push_records(context(integration, "deal"), connector, [new.pk], run=None)

    assert RELATIONS_KEY not in connector.created[0]
    assert "company_id" not in EntityLink.objects.get(integration=integration, local_id=new.pk).base


def test_a_relation_waiting_for_its_target_is_sent_once_the_target_is_created(integration, subaccount):
    """A deal pushed before its new company (changes in another order, an earlier chunk): the
    company's create then pushes the deal's relation, without the deal changing again."""
    fresh = Company.objects.create(subaccount=subaccount, name="Fresh Co")
    new = Deal.objects.create(subaccount=subaccount, name="Fresh", company=fresh)
    connector = Recorder()
    push_records(context(integration, "deal"), connector, [new.pk], run=None)
    assert RELATIONS_KEY not in connector.created[0]

    outcome = push_records(context(integration, "company"), connector, [fresh.pk], run=None)

    company_rid = EntityLink.objects.get(
        integration=integration, entity="company", local_id=fresh.pk
    ).remote_id
    deal_rid = EntityLink.objects.get(integration=integration, entity="deal", local_id=new.pk).remote_id
    assert connector.updated == [
        (deal_rid, {RELATIONS_KEY: {"company_id": {"add": [company_rid], "remove": []}}})
    ]
    assert outcome.pushed == 2  # the company, then the deal's relation
    link = EntityLink.objects.get(integration=integration, entity="deal", local_id=new.pk)
    assert link.base["company_id"] == str(fresh.pk)


def test_to_many_relations_push_only_the_difference(integration, subaccount):
    pull(integration, "contact", contact("p1", "a@example.com"), contact("p2", "b@example.com"))
    pull(integration, "deal", deal("d1", "Big", contact_ids=("p1",)))
    stored = local(integration, "deal", "d1")
    p2 = local(integration, "contact", "p2")
    record_update(record=stored, fields={"contact_ids": [p2.pk]}, origin="api_key:x")
    connector = Recorder()

    push_records(context(integration, "deal"), connector, [stored.pk], run=None)

    assert connector.updated == [("d1", {RELATIONS_KEY: {"contact_ids": {"add": ["p2"], "remove": ["p1"]}}})]


def test_a_replaced_record_moves_its_link_instead_of_duplicating(integration, subaccount):
    pull(integration, "contact", contact("lead-1", "ana@example.com"))
    original = local(integration, "contact", "lead-1")

    pull(
        integration,
        "contact",
        RemoteRecord(id="lead-1", modified_at=WHEN, fields={"email": "ana@example.com"}, replaced_by="003X"),
        contact("003X", "ana@example.com", WHEN + timedelta(seconds=1)),
    )

    assert Contact.objects.filter(subaccount=subaccount).count() == 1
    assert local(integration, "contact", "003X") == original
    assert not EntityLink.objects.filter(integration=integration, remote_id="lead-1").exists()


def test_a_pending_relation_meeting_a_local_change_is_settled_by_the_strategy_and_recorded(
    catalog, subaccount, sandbox_url
):
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, conflict_strategy="crm_wins")
    pull(integration, "company", company("c1", "Acme"))
    pull(integration, "deal", deal("d1", "Big", company_id=("c2",)))  # c2 not here yet
    stored = local(integration, "deal", "d1")
    record_update(
        record=stored, fields={"company_id": local(integration, "company", "c1").pk}, origin="api_key:x"
    )

    pull(integration, "company", company("c2", "Beta"))

    assert Deal.objects.get(pk=stored.pk).company == local(integration, "company", "c2")
    settled = Conflict.objects.get(field="company_id")
    assert (settled.status, settled.resolved_by, settled.resolution) == (
        "resolved",
        "strategy:crm_wins",
        "remote",
    )
