"""Meta's official ``facebook-business`` SDK against the emulator, unchanged but for its Graph
host (``FacebookSession.GRAPH``): Page forms, form leads with filtering across cursor pages, a lead
by id, the Page's leadgen subscription, and error 190 as the SDK reports it."""

import pytest
from facebook_business.adobjects.lead import Lead
from facebook_business.adobjects.leadgenform import LeadgenForm
from facebook_business.adobjects.page import Page
from facebook_business.api import FacebookAdsApi, FacebookSession
from facebook_business.exceptions import FacebookRequestError

from tests.connectors.facebook_leads.conftest import control


@pytest.fixture
def api(config, page_token) -> FacebookAdsApi:
    session = FacebookSession(config["app_id"], config["app_secret"], page_token)  # sends appsecret_proof
    session.GRAPH = config["base_url"]  # the only change: https://graph.facebook.com → the emulator
    return FacebookAdsApi(session, api_version="v23.0")


def test_the_sdk_lists_forms_and_pages_through_filtered_leads(fb, config, api):
    fb.seed("lead", 12, None)
    [form] = Page(config["pageId"], api=api).get_lead_gen_forms(fields=["id", "name", "questions"])
    assert form["name"] == "Spring offer" and form["questions"][0]["key"] == "what_are_you_looking_for"
    leads = LeadgenForm(form["id"], api=api).get_leads(
        fields=["id", "created_time", "field_data"], params={"limit": 5}
    )
    assert len({lead["id"] for lead in leads}) == 12  # the SDK followed three cursor pages
    cut = int(fb.records("lead").order_by("created_at")[8].data["created_unix"])
    newer = LeadgenForm(form["id"], api=api).get_leads(
        params={"filtering": [{"field": "time_created", "operator": "GREATER_THAN", "value": cut}]}
    )
    assert len(list(newer)) == 3


def test_the_sdk_reads_a_lead_and_subscribes_the_page(fb, config, api):
    fb.seed("lead", 1, None)
    lead_id = fb.records("lead").get().remote_id
    lead = Lead(lead_id, api=api).api_get(fields=["field_data", "ad_id", "campaign_id", "form_id"])
    assert {"name": "email", "values": ["lead0@example.com"]} in lead["field_data"]
    assert lead["campaign_id"] and lead["form_id"]
    Page(config["pageId"], api=api).create_subscribed_app(
        params={"subscribed_fields": ["leadgen"]}
    )  # {"success": true}
    assert fb.page_subscriptions() == {config["pageId"]: ["leadgen"]}
    [app] = Page(config["pageId"], api=api).get_subscribed_apps()
    assert app["subscribed_fields"] == ["leadgen"]


def test_the_sdk_sees_error_190_after_revocation(fb, config, api):
    control(config, "revoke", {})
    with pytest.raises(FacebookRequestError) as refused:
        Page(config["pageId"], api=api).api_get(fields=["name"])
    assert (refused.value.api_error_code(), refused.value.api_error_subcode()) == (190, 460)
    assert refused.value.body()["error"]["type"] == "OAuthException"
