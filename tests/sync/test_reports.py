"""Daily reports read from a ReportSource integration (the Facebook emulator's ad insights): the
first read backfills, later ones re-read the recent days in place, beat reads each source once a
day, and a source that lost its authorization is marked for reconnection."""

from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.utils import timezone

from connectors.facebook_leads.emulator import emulator as facebook_emulator
from integrations.models import Integration
from sync.models import DailyReport
from sync.reports import report_read, reports_due
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ads(catalog, subaccount, sandbox_url):
    facebook_emulator.reset()
    integration = sandbox_integration(subaccount, "facebook_leads", sandbox_url)
    page = integration.config["pageId"]
    form = facebook_emulator.forms(page).first()
    noon = datetime.now(tz=UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for days_ago in (10, 2, 2, 1):
        created = int((noon - timedelta(days=days_ago)).timestamp())
        facebook_emulator.lead_add(form, facebook_emulator.sample_field_data(days_ago, form), created=created)
    yield integration
    facebook_emulator.reset()


def leads_per_day(integration) -> dict:
    return {
        row.day: row.metrics["leads"]
        for row in DailyReport.objects.filter(integration=integration, kind="ad_insights")
    }


def test_the_first_read_backfills_and_later_reads_replace_the_recent_days(ads):
    today = timezone.localdate()
    first = report_read(ads)
    assert first.since == today - timedelta(days=29) and first.until == today
    per_day = leads_per_day(ads)
    assert per_day[today - timedelta(days=10)] == 1 and per_day[today - timedelta(days=2)] == 2
    row = DailyReport.objects.filter(integration=ads, day=today - timedelta(days=2)).first()
    assert row.subaccount_id == ads.subaccount_id and row.dimensions["campaign_name"]
    assert row.metrics["spend"] > 0 and row.dimensions.get("currency")

    form = facebook_emulator.forms(ads.config["pageId"]).first()
    facebook_emulator.lead_add(form, facebook_emulator.sample_field_data(99, form))  # today
    count_before = DailyReport.objects.filter(integration=ads).count()
    again = report_read(ads)
    assert again.since == today - timedelta(days=2)  # the last three days re-read
    assert leads_per_day(ads)[today] == 1
    # Re-reading replaced rows in place: one per campaign and day, never two.
    keys = list(DailyReport.objects.filter(integration=ads).values_list("day", "key"))
    assert len(keys) == len(set(keys)) and len(keys) >= count_before


def test_beat_reads_each_source_once_a_day(ads):
    assert reports_due() == {ads.pk: DailyReport.objects.filter(integration=ads).count()}
    assert reports_due() == {}  # read less than a day ago
    DailyReport.objects.filter(integration=ads).update(read_at=timezone.now() - timedelta(hours=25))
    assert ads.pk in reports_due()


def test_a_revoked_token_marks_the_source_for_reconnection_and_keeps_its_rows(ads):
    report_read(ads)
    kept = DailyReport.objects.filter(integration=ads).count()
    DailyReport.objects.filter(integration=ads).update(read_at=timezone.now() - timedelta(hours=25))
    requests.post(f"{ads.config['base_url']}/_control/revoke", timeout=10).raise_for_status()
    assert reports_due() == {}
    ads.refresh_from_db()
    assert ads.reauthorization_needed and ads.status == Integration.Status.ERROR
    assert DailyReport.objects.filter(integration=ads).count() == kept


def test_only_integrations_that_report_are_read(catalog, subaccount, sandbox_url, ads):
    sandbox_integration(subaccount, "hubspot", sandbox_url)
    assert set(reports_due()) == {ads.pk}
