"""The enrichment admin: scoring profile with rule tables, the enrichment log and its retry, the
record panel and "Enrich and score now", calibration and the priority queue, all scoped by membership."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from integrations.automation_forms import DefaultYesNoSelect
from integrations.models import Membership, SubAccount
from integrations.wizard import ReviewStepForm
from sync.api.enrichment_selectors import calibration_report
from sync.enrichment.jobs import PRIORITY_HIGH
from sync.models import Deal, EnrichmentJob, NextActionRule, OwnerRule, ScoreHistory, ScoringProfile
from tests.factories import IntegrationFactory
from tests.sync.api.conftest import api_for
from tests.sync.factories import CompanyFactory, ContactFactory


@pytest.fixture
def staff(db, client, subaccount, other_subaccount):
    """A staff member of acme only, with every integrations and sync permission."""
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.set(
        user.user_permissions.model.objects.filter(content_type__app_label__in=["integrations", "sync"])
    )
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)
    return client


def job(subaccount, **values):
    defaults = {"entity": "contact", "record_id": 1, "status": "failed", "available_at": timezone.now()}
    return EnrichmentJob.objects.create(subaccount=subaccount, **{**defaults, **values})


def test_the_sub_account_page_has_the_automation_fieldset(staff, subaccount):
    html = staff.get(f"/admin/integrations/subaccount/{subaccount.pk}/change/").content.decode()
    assert "Enrichment and automation" in html
    for name in (
        "auto_enrich",
        "auto_score",
        "auto_assign",
        "auto_create_tasks",
        "auto_create_deals",
        "deal_threshold",
    ):
        assert f'name="{name}"' in html


def test_integration_overrides_read_default_yes_no_and_blank_follows_the_sub_account(
    catalog, staff, subaccount
):
    integration = IntegrationFactory(subaccount=subaccount, auto_enrich=True)
    html = staff.get(f"/admin/integrations/integration/{integration.pk}/change/").content.decode()
    assert '<option value="unknown">Default (the sub-account&#x27;s)</option>' in html
    assert '<option value="true" selected>Yes</option>' in html and ">Unknown</option>" not in html


def test_the_wizards_review_step_offers_default_yes_no(db):
    form = ReviewStepForm()
    assert isinstance(form.fields["auto_create_deals"].widget, DefaultYesNoSelect)
    assert "Default (the sub-account&#x27;s)" in str(form["auto_create_deals"])
    assert ReviewStepForm(data={"auto_enrich": "unknown"}).fields["auto_enrich"].clean("unknown") is None


def test_the_integration_api_takes_null_overrides(catalog, subaccount):
    integration = IntegrationFactory(subaccount=subaccount, auto_score=True, deal_threshold=90)
    api = api_for(subaccount)
    answer = api.patch(
        f"/api/v1/integrations/{integration.pk}/",
        {"auto_score": None, "deal_threshold": None, "auto_create_deals": False},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    integration.refresh_from_db()
    assert (integration.auto_score, integration.deal_threshold, integration.auto_create_deals) == (
        None,
        None,
        False,
    )
    assert (
        api.patch(
            f"/api/v1/integrations/{integration.pk}/", {"deal_threshold": 101}, format="json"
        ).status_code
        == 400
    )


def test_the_scoring_profile_edits_lists_as_comma_separated_text_with_its_rules(staff, subaccount):
    profile = ScoringProfile.objects.create(subaccount=subaccount, icp_industries=["SaaS", "Fintech"])
    NextActionRule.objects.create(subaccount=subaccount, min_score=80, action="Schedule call within 48 h")
    OwnerRule.objects.create(subaccount=subaccount, name="UK", countries=["GB"], team=["alice", "bob"])
    url = f"/admin/sync/scoringprofile/{profile.pk}/change/"
    html = staff.get(url).content.decode()
    assert 'value="SaaS, Fintech"' in html and 'value="alice, bob"' in html
    assert "Schedule call within 48 h" in html and '["SaaS"' not in html
    form = {
        "icp_industries": "SaaS, Fintech, Retail",
        "icp_sizes": "51-200",
        "icp_countries": "gb, us",
        "icp_titles": "",
        "weight_financial": 0,
        "weight_growth": 10,
        "weight_engagement": 30,
        "weight_fit": 60,
        "engagement_window_days": 90,
        "engagement_half_life_days": 30,
        "engagement_daily_cap": 3,
        "provider_score": "blend",
        "provider_blend_percent": 50,
        "field_prefix": "platform_",
        "deal_name_template": "{company}",
        "deal_stage": "qualification",
        "deal_pipeline": "",
        **management("next_action_rules", NextActionRule.objects.get(), initial=1, total=2),
        "next_action_rules-0-position": 0,
        "next_action_rules-0-min_score": 80,
        "next_action_rules-0-max_score": 100,
        "next_action_rules-0-action": "Schedule call within 24 h",
        "next_action_rules-0-due_in_hours": 24,
        "next_action_rules-0-create_task": "on",
        "next_action_rules-0-is_active": "on",
        "next_action_rules-1-position": 1,
        "next_action_rules-1-min_score": 50,
        "next_action_rules-1-max_score": 79,
        "next_action_rules-1-action": "Send a case study",
        "next_action_rules-1-due_in_hours": 72,
        "next_action_rules-1-is_active": "on",
        **management("owner_rules", OwnerRule.objects.get(), initial=1, total=1),
        "owner_rules-0-position": 0,
        "owner_rules-0-name": "UK and Ireland",
        "owner_rules-0-countries": "gb, ie",
        "owner_rules-0-team": "alice, bob, carol",
        "owner_rules-0-is_active": "on",
    }
    answer = staff.post(url, form)
    assert answer.status_code == 302
    profile.refresh_from_db()
    assert profile.icp_industries == ["SaaS", "Fintech", "Retail"] and profile.icp_countries == ["GB", "US"]
    assert (profile.icp_titles, profile.weight_fit) == ([], 60)
    actions = list(NextActionRule.objects.filter(subaccount=subaccount).values_list("action", "due_in_hours"))
    assert sorted(actions) == [("Schedule call within 24 h", 24), ("Send a case study", 72)]
    rule = OwnerRule.objects.get()
    assert (rule.name, rule.countries, rule.team) == (
        "UK and Ireland",
        ["GB", "IE"],
        ["alice", "bob", "carol"],
    )

    form["weight_growth"] = form["weight_engagement"] = form["weight_fit"] = 0
    refused = staff.post(url, form)
    assert refused.status_code == 200 and "At least one weight must be above 0." in refused.content.decode()


def management(prefix, existing, *, initial, total):
    return {
        f"{prefix}-TOTAL_FORMS": total,
        f"{prefix}-INITIAL_FORMS": initial,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
        f"{prefix}-0-id": existing.pk,
    }


def test_staff_never_see_another_sub_accounts_profile_jobs_or_rules(staff, subaccount, other_subaccount):
    theirs = ScoringProfile.objects.create(subaccount=other_subaccount)
    NextActionRule.objects.create(subaccount=other_subaccount, action="Their secret play")
    mine = ScoringProfile.objects.create(subaccount=subaccount)
    job(other_subaccount, error="their failure")
    job(subaccount, error="my failure", record_id=2)
    listing = staff.get("/admin/sync/scoringprofile/").content.decode()
    assert f"/admin/sync/scoringprofile/{mine.pk}/change/" in listing
    assert f"/admin/sync/scoringprofile/{theirs.pk}/change/" not in listing
    assert staff.get(f"/admin/sync/scoringprofile/{theirs.pk}/change/").status_code in (302, 404)
    assert (
        "Their secret play" not in staff.get(f"/admin/sync/scoringprofile/{mine.pk}/change/").content.decode()
    )
    log = staff.get("/admin/sync/enrichmentjob/").content.decode()
    assert "my failure" in log and "their failure" not in log and "Enrichment log" in log


def test_the_enrichment_log_retries_failed_jobs_through_the_queue(
    staff, subaccount, django_capture_on_commit_callbacks
):
    integration = IntegrationFactory(subaccount=subaccount)
    failed = job(
        subaccount,
        record_id=11,
        priority=8,
        skip_enrichment=True,
        integration=integration,
        operation="create",
    )
    done = job(subaccount, record_id=12, status="succeeded")
    with django_capture_on_commit_callbacks(execute=False):
        answer = staff.post(
            "/admin/sync/enrichmentjob/",
            {"action": "retry", "_selected_action": [failed.pk, done.pk]},
        )
    assert answer.status_code == 302
    queued = EnrichmentJob.objects.get(status="pending")
    assert (queued.record_id, queued.priority, queued.skip_enrichment) == (11, 8, True)
    assert (queued.integration_id, queued.operation, queued.reason) == (
        integration.pk,
        "create",
        "admin retry",
    )
    assert EnrichmentJob.objects.filter(record_id=12, status="pending").count() == 0
    assert (
        staff.get(
            f"/admin/sync/enrichmentjob/?status=failed&entity=contact&integration={integration.pk}"
        ).status_code
        == 200
    )


def test_the_contact_page_shows_the_enrichment_panel_and_score_history(staff, subaccount):
    contact = ContactFactory(
        subaccount=subaccount,
        score=88,
        score_breakdown={"fit": 90, "engagement": 70},
        score_reasons=["+18 fit: industry SaaS in ICP"],
        scorer_version="rules-1",
        scored_at=timezone.now(),
        signals=["hiring", "funding"],
        next_actions=[{"action": "Schedule call within 48 h", "due_at": "2026-12-06T10:00:00Z"}],
        suggested_stage="qualified",
        enriched={"builtin": {"domain": "acme.com"}},
        enrichment_error="provider down",
    )
    for score in range(25):
        ScoreHistory.objects.create(
            subaccount=subaccount,
            entity="contact",
            record_id=contact.pk,
            score=score,
            scorer_version="rules-1",
        )
    html = staff.get(f"/admin/sync/contact/{contact.pk}/change/").content.decode()
    for text in (
        "+18 fit: industry SaaS in ICP",
        "hiring, funding",
        "Schedule call within 48 h",
        "qualified",
        "acme.com",
        "provider down",
        "fit 90",
    ):
        assert text in html, text
    assert html.count("<td>rules-1</td>") == 20


def test_enrich_and_score_now_queues_high_priority_jobs(
    staff, subaccount, django_capture_on_commit_callbacks
):
    contacts = [ContactFactory(subaccount=subaccount) for _ in range(2)]
    company = CompanyFactory(subaccount=subaccount)
    with django_capture_on_commit_callbacks(execute=False):
        staff.post(
            "/admin/sync/contact/", {"action": "enrich_now", "_selected_action": [c.pk for c in contacts]}
        )
        staff.post("/admin/sync/company/", {"action": "enrich_now", "_selected_action": [company.pk]})
    jobs = EnrichmentJob.objects.order_by("entity", "record_id")
    assert [(j.entity, j.record_id, j.priority, j.reason) for j in jobs] == [
        ("company", company.pk, PRIORITY_HIGH, "admin"),
        *(("contact", c.pk, PRIORITY_HIGH, "admin") for c in contacts),
    ]


def test_enrich_now_never_reaches_another_sub_accounts_records(
    staff, other_subaccount, django_capture_on_commit_callbacks
):
    theirs = ContactFactory(subaccount=other_subaccount)
    with django_capture_on_commit_callbacks(execute=False):
        staff.post("/admin/sync/contact/", {"action": "enrich_now", "_selected_action": [theirs.pk]})
    assert not EnrichmentJob.objects.exists()


def scored_contact(subaccount, score, stage=None):
    contact = ContactFactory(subaccount=subaccount, score=score, scored_at=timezone.now())
    if stage is not None:
        deal = Deal.objects.create(subaccount=subaccount, name="d", stage=stage)
        deal.contacts.add(contact)
    return contact


def test_calibration_counts_records_deals_and_won_deals_per_band(
    subaccount, other_subaccount, django_assert_max_num_queries
):
    scored_contact(subaccount, 95, "Closed Won")
    scored_contact(subaccount, 100, "closedwon")
    scored_contact(subaccount, 91, "negotiation")
    scored_contact(subaccount, 90)
    scored_contact(subaccount, 45, "CLOSED_WON")
    scored_contact(subaccount, 5)
    ContactFactory(subaccount=subaccount)
    scored_contact(other_subaccount, 95, "won")
    with django_assert_max_num_queries(2):
        report = calibration_report(subaccount=subaccount)
    bands = {band.label: band for band in report.bands}
    assert [b.label for b in report.bands][0] == "0-9" and report.bands[-1].label == "90-100"
    top = bands["90-100"]
    assert (top.records, top.deals, top.won, top.deal_rate, top.win_rate) == (4, 3, 2, 75.0, 50.0)
    assert (bands["40-49"].records, bands["40-49"].won) == (1, 1)
    assert (bands["0-9"].records, bands["0-9"].deals, bands["0-9"].deal_rate) == (1, 0, 0.0)
    assert bands["50-59"].deal_rate is None and report.unscored == 1 and report.scored == 6


def test_the_calibration_page_is_scoped(staff, subaccount, other_subaccount):
    scored_contact(subaccount, 95, "won")
    html = staff.get(f"/admin/sync/scoringprofile/calibration/?subaccount={subaccount.pk}").content.decode()
    assert "90-100" in html and "100.0 %" in html
    assert (
        staff.get(f"/admin/sync/scoringprofile/calibration/?subaccount={other_subaccount.pk}").status_code
        == 404
    )
    assert other_subaccount.name not in staff.get("/admin/sync/scoringprofile/calibration/").content.decode()


def test_the_priority_queue_page_lists_by_score_with_owner_filter_and_scope(
    staff, subaccount, other_subaccount
):
    top = ContactFactory(
        subaccount=subaccount,
        first_name="Top",
        score=97,
        scored_at=timezone.now(),
        owner_id="alice",
        signals=["funding"],
        next_actions=[{"action": "Call today", "due_at": "2026-12-05T09:00:00Z"}],
    )
    ContactFactory(
        subaccount=subaccount, first_name="Bobs", score=60, scored_at=timezone.now(), owner_id="bob"
    )
    ContactFactory(subaccount=other_subaccount, first_name="Theirs", score=99, scored_at=timezone.now())
    html = staff.get("/admin/sync/scoringprofile/priority-queue/").content.decode()
    assert html.index("Top Person") < html.index("Bobs Person") and "Theirs" not in html
    assert "Call today" in html and "2026-12-05T09:00:00Z" in html and "funding" in html
    alice = staff.get("/admin/sync/scoringprofile/priority-queue/?owner=alice").content.decode()
    assert "Top Person" in alice and "Bobs Person" not in alice
    assert (
        staff.get(f"/admin/sync/scoringprofile/priority-queue/?subaccount={other_subaccount.pk}").status_code
        == 404
    )
    assert f"/admin/sync/contact/{top.pk}/change/" in html
    assert SubAccount.objects.count() == 2
