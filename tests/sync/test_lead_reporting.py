"""The lead reporting page: its numbers (leads by source, cost per lead, web figures, lead → deal
conversion), its charts, and that a staff user sees only their own sub-accounts."""

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from integrations.models import Membership
from sync.lead_reporting import lead_report
from sync.models import Change, Contact, DailyReport, DealContact
from tests.factories import IntegrationFactory
from tests.sync.factories import ContactFactory, DealFactory

pytestmark = pytest.mark.django_db


def lead(subaccount, *, day: date, origin: str, campaign: str = "", deal: bool = False) -> Contact:
    contact = ContactFactory(
        subaccount=subaccount, custom_fields={"campaign_id": campaign} if campaign else {}
    )
    at = timezone.make_aware(timezone.datetime(day.year, day.month, day.day, 12))
    Contact.objects.filter(pk=contact.pk).update(created_at=at)
    Change.objects.create(
        subaccount=subaccount, entity="contact", record_id=contact.pk, op="create", origin=origin
    )
    if deal:
        DealContact.objects.create(deal=DealFactory(subaccount=subaccount), contact=contact)
    return contact


@pytest.fixture
def arranged(subaccount):
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    ads = IntegrationFactory(subaccount=subaccount, name="Lead ads")
    crm = IntegrationFactory(subaccount=subaccount, name="Agency CRM")
    web = IntegrationFactory(subaccount=subaccount, name="Analytics")
    lead(subaccount, day=yesterday, origin=f"integration:{ads.pk}", campaign="c1", deal=True)
    lead(subaccount, day=yesterday, origin=f"integration:{ads.pk}", campaign="c1")
    lead(subaccount, day=today, origin=f"integration:{ads.pk}", campaign="c1")
    lead(subaccount, day=today, origin=f"integration:{crm.pk}", deal=True)
    lead(subaccount, day=today, origin=f"integration:{crm.pk}")
    lead(subaccount, day=today, origin="api_key:abc123")
    for day, spend, reported in ((yesterday, "20.50", 2), (today, "10", 1)):
        DailyReport.objects.create(
            subaccount=subaccount,
            integration=ads,
            kind="ad_insights",
            day=day,
            key="c1",
            dimensions={"campaign_id": "c1", "campaign_name": "Spring promo", "currency": "EUR"},
            metrics={"spend": float(spend), "impressions": 1000, "leads": reported},
        )
    for day, sessions, conversions in ((yesterday, 120, 4), (today, 80, 2)):
        for source in ("google/organic", "facebook/cpc"):
            DailyReport.objects.create(
                subaccount=subaccount,
                integration=web,
                kind="web_traffic",
                day=day,
                key=source,
                dimensions=dict(zip(("source", "medium"), source.split("/"), strict=True)),
                metrics={"sessions": sessions, "conversions": conversions},
            )
    return today, yesterday


def test_leads_are_counted_per_day_by_campaign_or_creating_integration(subaccount, arranged):
    today, yesterday = arranged
    report = lead_report(subaccount=subaccount, days=7)
    assert report.days[-1] == today and len(report.days) == 7
    assert report.leads_by_source["Spring promo"][-2:] == [2, 1]
    assert report.leads_by_source["Agency CRM"][-2:] == [0, 2]
    assert report.leads_by_source["API"][-1] == 1
    assert report.leads_total == 6


def test_cost_per_lead_divides_campaign_spend_by_the_leads_that_arrived(subaccount, arranged):
    (campaign,) = lead_report(subaccount=subaccount, days=7).campaigns
    assert (campaign.name, campaign.spend, campaign.currency) == ("Spring promo", 30.5, "EUR")
    assert (campaign.leads, campaign.reported_leads) == (3, 3)
    assert campaign.cost_per_lead == pytest.approx(10.17)


def test_web_figures_are_summed_per_day_and_conversion_is_per_source(subaccount, arranged):
    report = lead_report(subaccount=subaccount, days=7)
    assert report.sessions[-2:] == [240, 160] and report.conversions[-2:] == [8, 4]
    rates = {row.source: (row.with_deal, row.leads, row.rate) for row in report.conversion}
    assert rates["Spring promo"] == (1, 3, 33.3)
    assert rates["Agency CRM"] == (1, 2, 50.0)
    assert report.conversion_rate == pytest.approx(33.3)


def test_days_outside_the_window_and_deleted_contacts_do_not_count(subaccount, arranged):
    today, _ = arranged
    lead(subaccount, day=today - timedelta(days=40), origin="api_key:x")
    # custom_fields is encrypted at rest (no key lookups in SQL): pick the campaign's leads in Python.
    in_campaign = [
        c.pk
        for c in Contact.objects.filter(subaccount=subaccount)
        if c.custom_fields.get("campaign_id") == "c1"
    ]
    Contact.objects.filter(pk__in=in_campaign).update(is_deleted=True)
    report = lead_report(subaccount=subaccount, days=30)
    assert "Spring promo" not in report.leads_by_source
    assert report.leads_total == 3


@pytest.fixture
def staff(client, subaccount, other_subaccount):
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.set(
        user.user_permissions.model.objects.filter(content_type__app_label__in=["integrations", "sync"])
    )
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)
    return client


def test_the_page_draws_each_chart_as_svg(staff, subaccount, arranged):
    html = staff.get(f"/admin/sync/dailyreport/leads/?subaccount={subaccount.pk}&days=7").content.decode()
    for chart in ("chart-leads", "chart-cost", "chart-web", "chart-conversion"):
        section = html.split(f'id="{chart}"', 1)[1].split("</figure>", 1)[0]
        assert "<svg" in section and ("<rect" in section or "<polyline" in section), chart
    assert "Spring promo" in html and 'id="leads-total">6<' in html
    assert "10.17 EUR" in html


def test_an_empty_sub_account_says_what_to_connect(staff, subaccount):
    html = staff.get("/admin/sync/dailyreport/leads/").content.decode()
    assert "No leads in these days yet." in html
    assert "connect Google Analytics 4" in html


def test_staff_never_see_another_sub_accounts_report(staff, other_subaccount):
    ContactFactory(subaccount=other_subaccount, first_name="Secret")
    assert staff.get(f"/admin/sync/dailyreport/leads/?subaccount={other_subaccount.pk}").status_code == 404
    html = staff.get("/admin/sync/dailyreport/leads/").content.decode()
    assert str(other_subaccount) not in html
