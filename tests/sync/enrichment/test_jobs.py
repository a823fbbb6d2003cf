"""The enrichment queue: one pending job per record, priority first, leases, back-off."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sync.enrichment.jobs import (
    MAX_ATTEMPTS,
    PRIORITY_BULK,
    PRIORITY_HIGH,
    job_fail,
    job_succeed,
    jobs_claim,
    jobs_enqueue,
    jobs_purge,
)
from sync.models import EnrichmentJob

pytestmark = pytest.mark.django_db


def test_a_record_has_one_pending_job_which_takes_the_higher_priority(subaccount):
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[1, 2], priority=PRIORITY_BULK)
    jobs_enqueue(
        subaccount_id=subaccount.pk,
        entity="contact",
        record_ids=[2, 3],
        priority=PRIORITY_HIGH,
        skip_enrichment=True,
    )
    jobs = {job.record_id: job for job in EnrichmentJob.objects.all()}
    assert sorted(jobs) == [1, 2, 3]
    assert jobs[1].priority == PRIORITY_BULK
    assert jobs[2].priority == PRIORITY_HIGH
    # Record 2 was queued once without skipping providers: they still run.
    assert jobs[2].skip_enrichment is False
    assert jobs[3].skip_enrichment is True


def test_a_lower_priority_request_never_lowers_a_pending_job(subaccount):
    jobs_enqueue(subaccount_id=subaccount.pk, entity="company", record_ids=[7], priority=9)
    jobs_enqueue(subaccount_id=subaccount.pk, entity="company", record_ids=[7], priority=0)
    assert EnrichmentJob.objects.get().priority == 9


def test_high_priority_jobs_overtake_a_backlog_of_ten_thousand(subaccount):
    jobs_enqueue(
        subaccount_id=subaccount.pk, entity="contact", record_ids=range(1, 10_001), priority=PRIORITY_BULK
    )
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[50_000], priority=PRIORITY_HIGH)
    first = jobs_claim(limit=1)
    assert [job.record_id for job in first] == [50_000]
    following = jobs_claim(limit=3)
    assert [job.record_id for job in following] == [1, 2, 3]  # then the backlog, oldest first


def test_a_claimed_job_is_nobody_elses_until_its_lease_runs_out(subaccount):
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[1])
    (job,) = jobs_claim(limit=5, owner="worker-a")
    assert job.status == EnrichmentJob.Status.RUNNING and job.attempts == 1
    assert jobs_claim(limit=5, owner="worker-b") == []
    later = timezone.now() + timedelta(minutes=5)
    (again,) = jobs_claim(limit=5, owner="worker-b", now=later)
    assert again.pk == job.pk and again.owner == "worker-b" and again.attempts == 2


def test_a_job_can_be_queued_again_while_it_runs(subaccount):
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[1])
    jobs_claim(limit=1)
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[1])
    assert EnrichmentJob.objects.filter(status="pending").count() == 1
    assert EnrichmentJob.objects.filter(status="running").count() == 1


def test_a_failed_job_waits_its_back_off_then_gives_up(subaccount):
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[1])
    now = timezone.now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        (job,) = jobs_claim(limit=1, now=now)
        assert job.attempts == attempt
        retried = job_fail(job, error="provider down", retry=True)
        if attempt < MAX_ATTEMPTS:
            assert retried
            job.refresh_from_db()
            assert job.status == "pending" and job.available_at > now
            assert jobs_claim(limit=1, now=now) == []  # not before its back-off
            now = job.available_at + timedelta(seconds=1)
        else:
            assert not retried
    job.refresh_from_db()
    assert job.status == "failed" and job.error == "provider down" and job.finished_at


def test_a_retry_gives_way_to_a_newer_pending_job(subaccount):
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[1])
    (job,) = jobs_claim(limit=1)
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[1])
    assert job_fail(job, error="provider down", retry=True) is False
    job.refresh_from_db()
    assert job.status == "failed" and "superseded" in job.error
    assert EnrichmentJob.objects.filter(status="pending").count() == 1


def test_finished_jobs_are_the_log_and_are_purged_after_thirty_days(subaccount):
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[1, 2])
    one, two = jobs_claim(limit=2)
    job_succeed(one, enrichments={"leadScore": 80}, duration_ms=12, enrichment_ms=5)
    job_fail(two, error="bad", retry=False)
    one.refresh_from_db()
    assert (one.status, one.enrichments, one.duration_ms, one.enrichment_ms) == (
        "succeeded",
        {"leadScore": 80},
        12,
        5,
    )
    assert jobs_purge(now=timezone.now() + timedelta(days=29)) == 0
    assert jobs_purge(now=timezone.now() + timedelta(days=31)) == 2


def test_the_feed_joins_a_pending_job_without_undoing_its_skip(subaccount):
    jobs_enqueue(
        subaccount_id=subaccount.pk, entity="contact", record_ids=[1], skip_enrichment=True, priority=8
    )
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[1], priority=5, join_pending=True)
    job = EnrichmentJob.objects.get()
    assert (job.skip_enrichment, job.priority) == (True, 8)
