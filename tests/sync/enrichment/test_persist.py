"""Scores written back (records_score), once and only when they change; tenants kept apart; the
nightly decay re-score (decay_rescore); the batch loader's query count (facts_for)."""

from datetime import UTC, datetime, timedelta

import pytest

from sync.enrichment.actions import profile_for
from sync.enrichment.facts import facts_for
from sync.enrichment.persist import decay_rescore, records_score
from sync.enrichment.scoring import SCORER_VERSION
from sync.enrichment.tasks import decay_rescore_task
from sync.models import Activity, Change, Company, Contact, ScoreHistory, ScoringProfile

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def icp(subaccount, **values) -> ScoringProfile:
    profile = profile_for(subaccount)
    for name, value in values.items():
        setattr(profile, name, value)
    profile.save()
    return profile


def contact(subaccount, *, company=None, activities=(), **fields) -> Contact:
    record = Contact.objects.create(subaccount=subaccount, company=company, **fields)
    for kind, direction, occurred_at in activities:
        Activity.objects.create(
            subaccount=subaccount, contact=record, kind=kind, direction=direction, occurred_at=occurred_at
        )
    return record


@pytest.fixture
def acme_profile(subaccount):
    return icp(
        subaccount, icp_industries=["SaaS"], icp_countries=["US"], icp_titles=["VP"], provider_score="ignore"
    )


def test_first_scoring_writes_the_record_one_change_and_one_history_row(subaccount, acme_profile):
    company = Company.objects.create(
        subaccount=subaccount,
        name="Initech",
        industry="SaaS",
        enriched={"enrichment_http": {"country": "US", "open_roles": 12, "signals": ["hiring"]}},
    )
    record = contact(
        subaccount,
        company=company,
        job_title="VP Engineering",
        activities=[("meeting", "", NOW - timedelta(hours=2))],
    )
    outcome = records_score(subaccount, "contact", [record.pk], cause="change", now=NOW)
    assert (outcome.scored, outcome.changed, outcome.previous) == (1, 1, {record.pk: None})

    record.refresh_from_db()
    # fit 50+15+10+10 = 85; engagement 25; growth 50+10+10 = 70; financial 50
    assert record.score_breakdown == {"financial": 50, "growth": 70, "engagement": 25, "fit": 85}
    assert record.score == 57  # (20·50 + 20·70 + 30·25 + 30·85) / 100
    assert record.score_reasons[0] == "+15 fit: industry SaaS in ICP"
    assert record.scorer_version == SCORER_VERSION
    assert record.signals == ["hiring", "icp_match", "meeting_booked"]
    assert record.suggested_stage == "lead"
    assert [a["action"] for a in record.next_actions] == [
        "Add to nurture sequence",
        "Prepare for the booked meeting",
        "Reference their hiring in outreach",
    ]
    assert record.next_actions[0]["due_at"] == "2026-03-08T12:00:00+00:00"
    assert record.scored_at == NOW
    assert record.version == 2

    change = Change.objects.get(subaccount=subaccount, entity="contact", record_id=record.pk, op="update")
    assert change.origin == "enrichment"
    assert change.fields == [
        "score",
        "score_breakdown",
        "score_reasons",
        "scorer_version",
        "signals",
        "next_actions",
        "suggested_stage",
    ]
    history = ScoreHistory.objects.get(entity="contact", record_id=record.pk)
    assert (history.score, history.cause, history.subaccount_id) == (record.score, "change", subaccount.pk)
    assert history.breakdown == record.score_breakdown


def test_scoring_unchanged_input_again_writes_nothing(subaccount, acme_profile):
    record = contact(subaccount, job_title="VP Sales", activities=[("call", "outbound", NOW)])
    records_score(subaccount, "contact", [record.pk], cause="change", now=NOW)
    record.refresh_from_db()
    changes, history = Change.objects.count(), ScoreHistory.objects.count()

    # An hour later: same day, same decay; the due dates of the same actions are kept.
    outcome = records_score(subaccount, "contact", [record.pk], cause="change", now=NOW + timedelta(hours=1))
    assert (outcome.scored, outcome.changed) == (1, 0)
    again = Contact.objects.get(pk=record.pk)
    assert (again.version, again.updated_at, again.scored_at) == (record.version, record.updated_at, NOW)
    assert again.next_actions == record.next_actions
    assert (Change.objects.count(), ScoreHistory.objects.count()) == (changes, history)


def test_a_change_of_reasons_only_writes_a_change_but_no_history(subaccount, acme_profile):
    record = contact(subaccount, job_title="VP Sales")
    records_score(subaccount, "contact", [record.pk], cause="change", now=NOW)
    # Another title that still matches the ICP keyword: same points, another reason.
    Contact.objects.filter(pk=record.pk).update(job_title="VP Marketing")
    outcome = records_score(subaccount, "contact", [record.pk], cause="change", now=NOW)
    assert outcome.changed == 1
    assert Change.objects.filter(record_id=record.pk).last().fields == ["score_reasons"]
    assert ScoreHistory.objects.filter(record_id=record.pk).count() == 1


def test_one_sub_accounts_icp_never_scores_anothers_records(subaccount, other_subaccount):
    icp(subaccount, icp_industries=["SaaS"], icp_countries=[], icp_titles=[], icp_sizes=[])
    icp(other_subaccount, icp_industries=["Retail"], icp_countries=[], icp_titles=[], icp_sizes=[])
    data = {"job_title": "CTO", "enriched": {"builtin": {"industry": "SaaS"}}}
    ours, theirs = contact(subaccount, **data), contact(other_subaccount, **data)

    records_score(subaccount, "contact", [ours.pk], cause="change", now=NOW)
    records_score(other_subaccount, "contact", [theirs.pk], cause="change", now=NOW)
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.score_breakdown["fit"] == 65
    assert theirs.score_breakdown["fit"] == 35
    assert ours.score != theirs.score


def test_another_tenants_ids_and_deleted_records_are_left_alone(subaccount, other_subaccount):
    theirs = contact(other_subaccount, job_title="CTO")
    gone = contact(subaccount, job_title="CTO", is_deleted=True)
    outcome = records_score(subaccount, "contact", [theirs.pk, gone.pk], cause="change", now=NOW)
    assert (outcome.scored, outcome.changed) == (0, 0)
    theirs.refresh_from_db()
    assert (theirs.score, theirs.version) == (None, 1)
    assert not Change.objects.exists()
    assert not ScoreHistory.objects.exists()


def test_companies_are_scored_from_their_own_fields(subaccount):
    icp(subaccount, icp_industries=["SaaS"], icp_sizes=["51-200"], icp_countries=[], icp_titles=[])
    company = Company.objects.create(
        subaccount=subaccount,
        name="Initech",
        industry="saas",
        enriched={"builtin": {"employees": 80}, "enrichment_http": {"provider_score": 90, "employees": 5000}},
    )
    Activity.objects.create(subaccount=subaccount, company=company, kind="call", occurred_at=NOW)
    records_score(subaccount, "company", [company.pk], cause="change", now=NOW)
    company.refresh_from_db()
    assert company.score_breakdown == {"financial": 50, "growth": 50, "engagement": 15, "fit": 80}
    # ours: (1000 + 1000 + 450 + 2400) / 100 = 48.5 → 49; blended 50 % with the provider's 90
    assert company.score == 70
    assert company.score_reasons[-1] == "score blended: 50% provider 90, 50% ours 49"


def test_facts_for_a_batch_take_two_queries(subaccount, acme_profile, django_assert_num_queries):
    companies = [
        Company.objects.create(subaccount=subaccount, name=f"C{i}", industry="SaaS") for i in range(3)
    ]
    records = [
        contact(subaccount, company=companies[i % 3], activities=[("note", "", NOW - timedelta(days=i))])
        for i in range(20)
    ]
    with django_assert_num_queries(2):
        facts = facts_for("contact", records, acme_profile, now=NOW)
    assert len(facts) == 20
    assert facts[records[4].pk].industry == "SaaS"
    assert facts[records[4].pk].activities == (("note", "", (NOW - timedelta(days=4)).date(), 1),)


def test_activity_without_occurred_at_counts_on_its_creation_day(subaccount, acme_profile):
    record = contact(subaccount)
    Activity.objects.create(subaccount=subaccount, contact=record, kind="meeting")
    created = Activity.objects.get(contact=record).created_at
    facts = facts_for("contact", [record], acme_profile, now=created)
    assert facts[record.pk].activities == (("meeting", "", created.astimezone(UTC).date(), 1),)


def test_decay_rescore_lowers_the_score_as_time_passes(subaccount, acme_profile):
    record = contact(subaccount, job_title="VP Sales", activities=[("meeting", "", NOW), ("call", "", NOW)])
    idle = contact(subaccount, job_title="Intern")
    records_score(subaccount, "contact", [record.pk, idle.pk], cause="change", now=NOW)
    record.refresh_from_db()
    assert record.score_breakdown["engagement"] == 40
    before = record.score

    assert decay_rescore(now=NOW + timedelta(hours=3)) == 0  # same day: nothing moved

    later = NOW + timedelta(days=30)  # one half-life: 40 → 20
    assert decay_rescore(now=later) == 1
    record.refresh_from_db()
    assert record.score_breakdown["engagement"] == 20
    assert record.score < before
    assert ScoreHistory.objects.filter(record_id=record.pk).first().cause == "decay"
    assert decay_rescore(now=later) == 0  # nothing left to change

    gone = NOW + timedelta(days=91)  # out of the window: no engagement at all
    assert decay_rescore(now=gone) == 1
    record.refresh_from_db()
    assert record.score_breakdown["engagement"] == 0
    assert "engagement: no activity in 90 days" in record.score_reasons
    assert Change.objects.filter(record_id=idle.pk).count() == 1  # scored once, never by decay


def test_the_decay_task_is_named_for_the_beat_schedule():
    assert decay_rescore_task.name == "sync.enrichment.decay_rescore"
