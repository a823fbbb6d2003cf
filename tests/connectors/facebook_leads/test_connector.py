"""The connector against the Graph emulator: connecting (code → short token → long-lived token →
Page token), backfill and catch-up pulls, fetching leads by id, the Page's leadgen subscription,
error 190 and throttling waits."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.base import MemoryTokenStore, RateLimited, ReauthorizationNeeded, Tokens
from connectors.facebook_leads.connector import FacebookLeadsConnector
from connectors.sandbox.models import SandboxState
from tests.connectors.facebook_leads.conftest import control


def pull_all(connector, entity, cursor=None):
    records = []
    for page in connector.pull(entity, cursor=cursor):
        records += page.records
        cursor = page.cursor if page.cursor is not None else cursor
    return records, cursor


def add_lead(config, n: int, *, ago: int = 0, form_id: str = "", extra=None) -> str:
    body = {
        "field_data": [
            {"name": "email", "values": [f"ana{n}@example.com"]},
            {"name": "full_name", "values": [f"Ana Lee{n}"]},
            {"name": "phone_number", "values": ["+14155550100"]},
            *(extra or []),
        ],
        "created_time": int(time.time()) - ago,
        "notify": False,
    }
    if form_id:
        body["form_id"] = form_id
    return control(config, "lead", body)["id"]


def test_facebook_login_ends_with_the_long_lived_user_token_and_the_page_token(fb, config):
    connector = FacebookLeadsConnector(config, token_store=MemoryTokenStore())
    client = connector.oauth_client()
    redirect = "https://app.example.com/oauth/callback/facebook_leads/"
    login = requests.get(
        client.authorize_url(state="s1", redirect_uri=redirect, verifier=None),
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlsplit(login.headers["Location"]).query)["code"][0]
    tokens = client.exchange_code(code=code, redirect_uri=redirect, verifier=None)
    assert tokens.expires_at - time.time() < 3 * 3600  # short-lived
    connector.accept_tokens(tokens)
    assert tokens.expires_at - time.time() > 59 * 86400  # exchanged for a long-lived one
    assert tokens.extra["page_id"] == config["pageId"]
    assert tokens.extra["page_access_token"] == fb.page_token(config["pageId"]).access_token


def test_a_pasted_access_token_is_connected_once_and_stored(fb, config):
    short = fb.issue_user_token(long_lived=False).access_token
    store = MemoryTokenStore()
    connector = FacebookLeadsConnector({**config, "accessToken": short}, token_store=store)
    assert connector.test_connection().ok
    assert store.tokens.access_token != short and store.tokens.extra["page_access_token"]
    assert FacebookLeadsConnector(config, token_store=store).test_connection().ok  # no exchange again


def test_a_user_who_does_not_manage_the_page_is_told_so(fb, config):
    short = fb.issue_user_token(long_lived=False).access_token
    connector = FacebookLeadsConnector({**config, "pageId": "99999999"}, token_store=MemoryTokenStore())
    with pytest.raises(Exception, match="does not manage Page 99999999"):
        connector.connect_tokens(short)


def test_backfill_reads_every_form_then_catch_up_reads_only_newer_leads(fb, config, connector):
    form2 = fb.form_add(config["pageId"], "Quote request", questions=["budget"]).remote_id
    old = [add_lead(config, n, ago=7200 - n) for n in range(3)]
    old.append(
        add_lead(config, 3, ago=3600, form_id=form2, extra=[{"name": "budget", "values": ["5k", "10k"]}])
    )
    contacts, cursor = pull_all(connector, "contact")
    assert sorted(r.id for r in contacts) == sorted(old)
    quote = next(r for r in contacts if r.id == old[3])
    assert quote.fields["budget"] == "5k, 10k" and quote.fields["form_id"] == form2
    assert (quote.fields["first_name"], quote.fields["last_name"]) == ("Ana", "Lee3")
    assert quote.fields["email"] == "ana3@example.com" and quote.fields["phone_number"] == "+14155550100"
    assert quote.fields["ad_id"] and quote.fields["adset_id"] and quote.fields["campaign_id"]

    missed = add_lead(config, 9)  # came while we were down; its webhook never arrived
    later, _ = pull_all(connector, "contact", cursor)
    # The overlap window (OVERLAP_SECONDS before the newest lead read) re-reads that newest one, not
    # the older leads; the engine links a lead once however often it is read.
    assert sorted(r.id for r in later) == sorted([old[3], missed])


def test_activities_are_the_lead_form_submissions_related_to_their_contacts(fb, config, connector):
    lead = add_lead(config, 1, extra=[{"name": "what_are_you_looking_for", "values": ["cakes"]}])
    [activity], _ = pull_all(connector, "activity")
    assert activity.id == lead and activity.relations == {"contact_id": (lead,)}
    assert activity.fields["subject"] == "Lead form submitted: Spring offer"
    assert "what_are_you_looking_for: cakes" in activity.fields["body"]
    assert "Campaign ID: " in activity.fields["body"] and activity.fields["channel"] == "facebook"
    [fetched] = connector.get("activity", [lead])
    assert fetched.fields == activity.fields


def test_get_fetches_leads_by_id_and_skips_unknown_ones(fb, config, connector):
    lead = add_lead(config, 5)
    [record] = connector.get("contact", [lead, "123456789"])
    assert record.id == lead and record.fields["email"] == "ana5@example.com"


def test_discovered_fields_include_the_forms_custom_questions(fb, connector):
    names = {f.name for f in connector.discover_fields("contact")}
    assert {"email", "phone_number", "ad_id", "campaign_id", "what_are_you_looking_for"} <= names


def test_activation_subscribes_the_app_to_the_pages_leadgen_field(fb, config, connector, graph, page_token):
    subscription = connector.subscribe_webhooks(target_url="https://app.example.com/hook", secret="x")
    listed = requests.get(
        f"{graph}/{config['pageId']}/subscribed_apps", params={"access_token": page_token}, timeout=10
    )
    assert listed.json()["data"][0]["subscribed_fields"] == ["leadgen"]
    connector.unsubscribe_webhooks(subscription=subscription)
    assert fb.page_subscriptions() == {}


def test_error_190_asks_for_reconnection(fb, config, connector, store):
    control(config, "revoke", {})
    with pytest.raises(ReauthorizationNeeded, match="190/460"):
        list(connector.pull("contact", cursor=None))
    assert "Reconnect" in store.reauth_reason


def test_throttling_waits_the_estimated_time_to_regain_access(fb, config, connector):
    lead = add_lead(config, 1)
    control(config, "settings", {"throttle_minutes": 0})
    control(config, "faults", {"ratelimit_count": 1})
    assert [r.id for r in connector.get("contact", [lead])] == [lead]  # waited a moment, retried

    control(config, "settings", {"throttle_minutes": 7, "throttle_code": 17})
    control(config, "faults", {"ratelimit_count": 3})
    before = SandboxState.objects.get(provider="facebook_leads").requests
    with pytest.raises(RateLimited) as throttled:
        connector.get("contact", [lead])
    assert throttled.value.retry_after == 7 * 60  # left to the scheduler: too long to sleep on
    assert SandboxState.objects.get(provider="facebook_leads").requests == before + 1


def test_tokens_of_another_page_are_connected_again(fb, config):
    """Stored tokens are for one Page: a config naming another one reconnects from accessToken."""
    stale = Tokens(access_token="old", extra={"page_id": "1", "page_access_token": "old-page"})
    short = fb.issue_user_token(long_lived=False).access_token
    store = MemoryTokenStore(stale)
    assert FacebookLeadsConnector({**config, "accessToken": short}, token_store=store).test_connection().ok
    assert store.tokens.extra["page_id"] == config["pageId"]


def test_leads_are_fetched_fifty_per_graph_batch_request(fb, config, connector):
    fb.seed("lead", 60, None)
    ids = list(fb.records("lead").values_list("remote_id", flat=True))
    records = connector.get("contact", [*ids, "123456789"])
    assert sorted(r.id for r in records) == sorted(ids)
    assert connector.page_client().calls == 2  # 50 + 11 leads, one unknown
