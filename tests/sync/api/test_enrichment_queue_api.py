"""The priority queue, score history and the records API's read-only enrichment fields."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sync.models import Company, Contact, ScoreHistory
from tests.sync.factories import CompanyFactory, ContactFactory


def scored(subaccount, score, *, minutes_ago=0, **values):
    return ContactFactory(
        subaccount=subaccount,
        score=score,
        scored_at=timezone.now() - timedelta(minutes=minutes_ago),
        score_breakdown={"fit": score},
        score_reasons=[f"+{score} fit"],
        signals=["hiring"],
        next_actions=[{"action": "Call", "due_at": "2026-12-06T10:00:00Z", "rule": 1}],
        suggested_stage="qualified",
        **values,
    )


def queue(api, query=""):
    answer = api.get(f"/api/v1/priority-queue/?{query}")
    assert answer.status_code == 200, answer.content
    return answer.json()["results"]


def test_the_queue_lists_scored_live_records_best_then_most_recently_scored(api, subaccount):
    older = scored(subaccount, 90, minutes_ago=30)
    newer = scored(subaccount, 90, minutes_ago=1, owner_id="alice")
    low = scored(subaccount, 40)
    ContactFactory(subaccount=subaccount)  # unscored
    scored(subaccount, 99, is_deleted=True)
    rows = queue(api)
    assert [row["id"] for row in rows] == [newer.pk, older.pk, low.pk]
    top = rows[0]
    assert (top["entity"], top["email"], top["owner_id"], top["score"]) == (
        "contact",
        newer.email,
        "alice",
        90,
    )
    assert (top["score_breakdown"], top["score_reasons"], top["signals"]) == (
        {"fit": 90},
        ["+90 fit"],
        ["hiring"],
    )
    assert top["next_actions"][0]["action"] == "Call" and top["suggested_stage"] == "qualified"
    assert top["name"] == str(newer)


def test_the_queue_filters_by_owner_and_min_score_and_limits(api, subaccount):
    mine = scored(subaccount, 85, owner_id="alice")
    scored(subaccount, 95, owner_id="bob")
    scored(subaccount, 30, owner_id="alice")
    assert [row["id"] for row in queue(api, "owner_id=alice&min_score=50")] == [mine.pk]
    assert len(queue(api, "limit=2")) == 2


def test_the_queue_lists_companies(api, subaccount):
    company = CompanyFactory(subaccount=subaccount, score=75, scored_at=timezone.now(), owner_id="carol")
    scored(subaccount, 99)
    rows = queue(api, "entity=company")
    assert [(row["id"], row["entity"], row["domain"], row["owner_id"]) for row in rows] == [
        (company.pk, "company", company.domain, "carol")
    ]


def test_the_queue_is_the_callers_only(api, other_api, subaccount, other_subaccount):
    scored(other_subaccount, 99)
    mine = scored(subaccount, 10)
    assert [row["id"] for row in queue(api)] == [mine.pk]
    assert [row["id"] for row in queue(other_api)] != [mine.pk]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "min_score=101", "min_score=-1", "entity=deal"])
def test_queue_query_validation(api, query):
    answer = api.get(f"/api/v1/priority-queue/?{query}")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid"


def history(subaccount, entity, record, score, minutes_ago):
    row = ScoreHistory.objects.create(
        subaccount=subaccount,
        entity=entity,
        record_id=record.pk,
        score=score,
        breakdown={"fit": score},
        reasons=[f"+{score}"],
        scorer_version="rules-1",
        cause="change",
    )
    ScoreHistory.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return row


def test_score_history_newest_first_per_record(api, subaccount):
    contact = ContactFactory(subaccount=subaccount)
    other = ContactFactory(subaccount=subaccount)
    first = history(subaccount, "contact", contact, 40, 60)
    second = history(subaccount, "contact", contact, 70, 5)
    history(subaccount, "contact", other, 10, 1)
    answer = api.get(f"/api/v1/contacts/{contact.pk}/score-history/")
    assert answer.status_code == 200, answer.content
    rows = answer.json()["results"]
    assert [(row["id"], row["score"]) for row in rows] == [(second.pk, 70), (first.pk, 40)]
    assert rows[0]["reasons"] == ["+70"] and rows[0]["scorer_version"] == "rules-1"


def test_company_score_history(api, subaccount):
    company = CompanyFactory(subaccount=subaccount)
    row = history(subaccount, "company", company, 55, 1)
    history(subaccount, "contact", company, 99, 1)  # same id, other entity
    rows = api.get(f"/api/v1/companies/{company.pk}/score-history/").json()["results"]
    assert [r["id"] for r in rows] == [row.pk]


def test_another_sub_accounts_score_history_is_a_404(api, other_subaccount):
    theirs = ContactFactory(subaccount=other_subaccount)
    history(other_subaccount, "contact", theirs, 80, 1)
    answer = api.get(f"/api/v1/contacts/{theirs.pk}/score-history/")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/companies/999999/score-history/").status_code == 404


def test_records_show_enrichment_fields_read_only(api, subaccount):
    contact = scored(subaccount, 88, scorer_version="rules-1", enriched={"builtin": {"domain": "acme.com"}})
    body = api.get(f"/api/v1/contacts/{contact.pk}/").json()
    assert (body["score"], body["score_reasons"], body["scorer_version"]) == (88, ["+88 fit"], "rules-1")
    assert body["suggested_stage"] == "qualified" and body["enriched"] == {"builtin": {"domain": "acme.com"}}
    assert body["scored_at"] and body["enrichment_error"] == ""
    for field, value in [
        ("score", 1),
        ("score_reasons", []),
        ("suggested_stage", "won"),
        ("enrichment_error", "x"),
    ]:
        answer = api.patch(f"/api/v1/contacts/{contact.pk}/", {field: value}, format="json")
        assert answer.status_code == 400, (field, answer.content)
    created = api.post("/api/v1/companies/", {"name": "Acme", "score": 100}, format="json")
    assert created.status_code == 400
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.score, stored.suggested_stage, stored.version) == (88, "qualified", contact.version)
    assert not Company.objects.exists()
