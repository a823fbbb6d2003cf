"""Ad insights from the emulated ad account: spend, impressions and leads per campaign per day,
read by the connector and by the official SDK's ``AdAccount.get_insights``."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.api import FacebookAdsApi, FacebookSession

from connectors.capabilities import ReportSource
from tests.connectors.facebook_leads.conftest import control


def day(days_ago: int):
    return (datetime.now(tz=UTC) - timedelta(days=days_ago)).date()


@pytest.fixture
def leads(fb, config):
    """Two forms (two campaigns): three leads two days ago and one yesterday on the first, one on the second yesterday."""
    second = fb.form_add(config["pageId"], "Quote request")
    first = fb.forms(config["pageId"]).first()
    noon = datetime.now(tz=UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for form, days_ago in [(first, 2), (first, 2), (first, 2), (first, 1), (second, 1)]:
        created = int((noon - timedelta(days=days_ago)).timestamp())
        fb.lead_add(form, fb.sample_field_data(days_ago, form), created=created)
    return first, second


def test_insights_give_spend_impressions_and_leads_per_campaign_per_day(fb, config, connector, leads):
    rows = connector.ad_insights(day(3), day(1))
    assert len(rows) == 6  # two campaigns × three days
    spring = {r.day: r for r in rows if r.campaign_name == "Spring offer campaign"}
    quote = {r.day: r for r in rows if r.campaign_name == "Quote request campaign"}
    assert [spring[day(n)].leads for n in (3, 2, 1)] == [0, 3, 1]
    assert [quote[day(n)].leads for n in (3, 2, 1)] == [0, 0, 1]
    assert spring[day(2)].impressions > spring[day(3)].impressions > 0
    assert isinstance(spring[day(2)].spend, Decimal) and spring[day(2)].spend > 0
    assert len({r.campaign_id for r in rows}) == 2


def test_insights_need_the_ad_account_and_wait_out_ads_throttling(fb, config, connector, leads):
    control(config, "settings", {"throttle_code": 80000, "throttle_minutes": 0})
    control(config, "faults", {"ratelimit_count": 1})
    assert len(connector.ad_insights(day(1), day(1))) == 2  # throttled once, retried
    connector.config["adAccountId"] = "999999999"
    with pytest.raises(Exception, match="does not exist"):
        connector.ad_insights(day(1), day(1))


def test_the_sdk_reads_the_same_insights(fb, config, store, leads):
    session = FacebookSession(config["app_id"], config["app_secret"], store.tokens.access_token)
    session.GRAPH = config["base_url"]
    api = FacebookAdsApi(session, api_version="v23.0")
    rows = AdAccount(config["adAccountId"], api=api).get_insights(
        fields=["campaign_name", "spend", "impressions", "actions"],
        params={
            "level": "campaign",
            "time_increment": 1,
            "time_range": {"since": str(day(2)), "until": str(day(2))},
        },
    )
    by_name = {row["campaign_name"]: row for row in rows}
    assert by_name["Spring offer campaign"]["actions"][0] == {"action_type": "lead", "value": "3"}
    assert "actions" not in by_name["Quote request campaign"]  # no leads that day
    assert float(by_name["Spring offer campaign"]["spend"]) > 0


def test_report_rows_are_the_daily_insights_keyed_by_campaign_in_the_accounts_currency(
    fb, config, connector, leads
):
    control(config, "settings", {"ad_account_currency": "EUR"})
    rows = list(connector.report_rows(day(3), day(1)))
    assert isinstance(connector, ReportSource) and len(rows) == 6
    assert {r.kind for r in rows} == {"ad_insights"}
    spring = {r.day: r for r in rows if r.dimensions["campaign_name"] == "Spring offer campaign"}
    assert [spring[day(n)].metrics["leads"] for n in (3, 2, 1)] == [0, 3, 1]
    two_days_ago = spring[day(2)]
    assert two_days_ago.key == two_days_ago.dimensions["campaign_id"]
    assert two_days_ago.dimensions["currency"] == "EUR"
    assert set(two_days_ago.metrics) == {"spend", "impressions", "leads"}
    assert two_days_ago.metrics["spend"] > 0 and two_days_ago.metrics["impressions"] > 0
    assert list(connector.report_rows(day(3), day(1))) == rows  # deterministic: a re-read replaces


def test_report_rows_follow_paging_and_count_each_campaigns_leads_per_day(fb, config, connector, leads):
    first, _ = leads
    other_ad = str(int(first.data["ad_id"]) + 1000)  # a lead behind another ad: a third campaign
    noon = datetime.now(tz=UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    fb.lead_add(
        first,
        fb.sample_field_data(9, first),
        created=int((noon - timedelta(days=4)).timestamp()),
        ad_id=other_ad,
    )
    connector.page_size = 4  # 3 campaigns × 10 days: eight pages
    rows = list(connector.report_rows(day(10), day(1)))
    assert len(rows) == 30 and len({(r.key, r.day) for r in rows}) == 30

    stored: dict[tuple[str, object], int] = {}
    for lead in fb.records("lead"):
        when = datetime.fromtimestamp(lead.data["created_unix"], tz=UTC).date()
        stored[(lead.data["campaign_id"], when)] = stored.get((lead.data["campaign_id"], when), 0) + 1
    assert {(r.key, r.day): int(r.metrics["leads"]) for r in rows if r.metrics["leads"]} == stored
    assert str(int(other_ad) + 2) in {r.key for r in rows}


def test_report_rows_leave_the_currency_out_when_graph_gives_none(fb, config, connector, leads):
    control(config, "settings", {"ad_account_currency": ""})
    rows = list(connector.report_rows(day(1), day(1)))
    assert rows and all("currency" not in r.dimensions for r in rows)


def test_the_sdk_reads_the_ad_accounts_currency(fb, config, store):
    session = FacebookSession(config["app_id"], config["app_secret"], store.tokens.access_token)
    session.GRAPH = config["base_url"]
    account = AdAccount(config["adAccountId"], api=FacebookAdsApi(session, api_version="v23.0"))
    assert account.api_get(fields=["currency", "name"])["currency"] == "USD"
