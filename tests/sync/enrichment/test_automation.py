"""Automation after scoring: owner rules with round-robin, tasks once per rule, one deal at the threshold."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from integrations.automation import AutomationSettings
from sync.automation import automate, deal_name, owner_assign
from sync.models import Activity, AutomationMark, Contact, Deal, NextActionRule, OwnerRule, ScoringProfile
from sync.services import record_create

API = "api_key:test"


def _settings(**on):
    values = dict(
        auto_enrich=False,
        auto_score=True,
        auto_assign=False,
        auto_create_tasks=False,
        auto_create_deals=False,
        deal_threshold=70,
    )
    return AutomationSettings(**{**values, **on})


def _contact(subaccount, email, *, country="", score=None, **fields):
    contact = record_create(
        subaccount=subaccount, entity="contact", fields={"email": email, **fields}, origin=API
    )
    Contact.objects.filter(pk=contact.pk).update(
        enriched={"builtin": {"country": country}} if country else {}, score=score
    )
    return Contact.objects.select_related("company").get(pk=contact.pk)


@pytest.mark.django_db
def test_owner_rules_apply_in_order_and_take_turns_within_a_team(subaccount):
    OwnerRule.objects.create(
        subaccount=subaccount, position=1, name="UK", countries=["gb"], team=["alice", "bob"]
    )
    OwnerRule.objects.create(subaccount=subaccount, position=2, name="Rest", team=["carol"])
    owners = [owner_assign(_contact(subaccount, f"p{i}@acme.com", country="GB")) for i in range(3)]
    assert owners == ["alice", "bob", "alice"]
    assert owner_assign(_contact(subaccount, "f@acme.com", country="FR")) == "carol"
    assert Contact.objects.get(email="f@acme.com").owner_id == "carol"


@pytest.mark.django_db
def test_owner_rules_match_region_postcode_prefix_and_industry(subaccount):
    OwnerRule.objects.create(
        subaccount=subaccount,
        position=1,
        name="London fintech",
        postcode_prefixes=["EC"],
        industries=["Fintech"],
        team=["dan"],
    )
    OwnerRule.objects.create(
        subaccount=subaccount, position=2, name="California", regions=["CA"], team=["erin"]
    )
    london = _contact(subaccount, "l@acme.com")
    Contact.objects.filter(pk=london.pk).update(
        enriched={"builtin": {"postcode": "ec1a 1bb", "industry": "fintech"}}
    )
    london.refresh_from_db()
    california = _contact(subaccount, "c@acme.com")
    Contact.objects.filter(pk=california.pk).update(enriched={"enrichment_http": {"region": "CA"}})
    california.refresh_from_db()
    nowhere = _contact(subaccount, "n@acme.com")
    assert [owner_assign(london), owner_assign(california), owner_assign(nowhere)] == ["dan", "erin", ""]


@pytest.mark.django_db
def test_auto_assign_leaves_an_owned_record_alone(subaccount):
    OwnerRule.objects.create(subaccount=subaccount, name="All", team=["alice"])
    owned = _contact(subaccount, "o@acme.com", owner_id="zed")
    profile = ScoringProfile.objects.create(subaccount=subaccount)
    outcome = automate(owned, settings=_settings(auto_assign=True), profile=profile, entity="contact")
    assert outcome.owner == "" and Contact.objects.get(pk=owned.pk).owner_id == "zed"


@pytest.mark.django_db
def test_a_task_per_rule_once_however_often_the_record_is_scored(subaccount):
    call = NextActionRule.objects.create(
        subaccount=subaccount, action="Schedule call within 48 h", due_in_hours=48
    )
    hint = NextActionRule.objects.create(subaccount=subaccount, action="Mention hiring", create_task=False)
    profile = ScoringProfile.objects.create(subaccount=subaccount)
    contact = _contact(subaccount, "t@acme.com", score=85)
    due = datetime(2026, 12, 6, 9, tzinfo=UTC)
    contact.next_actions = [
        {"action": call.action, "due_at": due.isoformat(), "rule": call.pk},
        {"action": hint.action, "due_at": due.isoformat(), "rule": hint.pk},
    ]
    first = automate(contact, settings=_settings(auto_create_tasks=True), profile=profile, entity="contact")
    again = automate(contact, settings=_settings(auto_create_tasks=True), profile=profile, entity="contact")
    assert len(first.tasks) == 1 and again.tasks == []
    task = Activity.objects.get(pk=first.tasks[0])
    assert (task.kind, task.subject, task.due_at, task.contact_id) == ("task", call.action, due, contact.pk)
    assert AutomationMark.objects.get(action=f"task:{call.pk}").created_id == task.pk


@pytest.mark.django_db
def test_a_deal_once_the_score_reaches_the_threshold(subaccount):
    profile = ScoringProfile.objects.create(subaccount=subaccount, deal_stage="qualification")
    company = record_create(subaccount=subaccount, entity="company", fields={"name": "Revolut"}, origin=API)
    contact = _contact(
        subaccount, "sarah@revolut.com", score=69, first_name="Sarah", last_name="Chen", company_id=company.pk
    )
    settings = _settings(auto_create_deals=True)
    assert automate(contact, settings=settings, profile=profile, entity="contact").deal is None
    contact.score = 70
    deal_id = automate(contact, settings=settings, profile=profile, entity="contact").deal
    deal = Deal.objects.get(pk=deal_id)
    assert (deal.name, deal.stage, deal.company_id, deal.contact_ids) == (
        "Revolut — Sarah Chen",
        "qualification",
        company.pk,
        [contact.pk],
    )
    contact.score = 95
    assert automate(contact, settings=settings, profile=profile, entity="contact").deal is None
    assert Deal.objects.count() == 1


@pytest.mark.django_db
def test_a_deal_name_template_with_an_unknown_placeholder_keeps_it(subaccount):
    contact = _contact(subaccount, "x@acme.com", first_name="Xi", score=88)
    assert deal_name(contact, "{name} ({score}) {nope}") == "Xi (88) {nope}"
    assert deal_name(contact, "") == "Xi"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="needs concurrent transactions")
def test_two_workers_crossing_the_threshold_at_once_make_one_deal(subaccount):
    profile = ScoringProfile.objects.create(subaccount=subaccount)
    contact = _contact(subaccount, "race@acme.com", score=90)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            mine = Contact.objects.get(pk=contact.pk)
            results.append(
                automate(
                    mine, settings=_settings(auto_create_deals=True), profile=profile, entity="contact"
                ).deal
            )
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len([r for r in results if r is not None]) == 1
    assert Deal.objects.filter(subaccount=subaccount).count() == 1
