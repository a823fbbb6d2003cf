"""The Graph emulator over real HTTP, as providers.md §9's checklist lists it: token exchange,
/me/accounts Page tokens, leads with field_data and +0000 times, time_created filtering and cursors,
190 with its subcodes, throttling as 400 + usage headers, and signed leadgen POSTs retried."""

import json
import re
import time

import requests

from connectors.base import WebhookRequest
from connectors.facebook_leads import webhooks
from connectors.facebook_leads.emulator.graph import LONG_LIVED_SECONDS
from connectors.signatures import verify_facebook
from tests.connectors.facebook_leads.conftest import control


def get(url: str, token: str, **params) -> requests.Response:
    return requests.get(url, params={"access_token": token, **params}, timeout=10)


def test_a_short_lived_token_is_exchanged_and_lists_pages_with_tokens_that_do_not_expire(fb, config, graph):
    short = fb.issue_user_token(long_lived=False)
    app = {"client_id": config["app_id"], "client_secret": config["app_secret"]}
    resp = requests.get(
        f"{graph}/oauth/access_token",
        params={"grant_type": "fb_exchange_token", "fb_exchange_token": short.access_token, **app},
        timeout=10,
    )
    assert resp.status_code == 200 and resp.json()["expires_in"] == LONG_LIVED_SECONDS
    assert resp.json()["token_type"] == "bearer"
    accounts = get(f"{graph}/me/accounts", resp.json()["access_token"]).json()
    [page] = accounts["data"]
    assert page["id"] == config["pageId"] and page["access_token"] and "MANAGE" in page["tasks"]
    assert fb.page_token(page["id"]).expires_at is None
    bad = requests.get(
        f"{graph}/oauth/access_token",
        params={**app, "client_secret": "wrong", "grant_type": "fb_exchange_token", "fb_exchange_token": "x"},
        timeout=10,
    )
    assert bad.status_code == 400 and "error" in bad.json()


def test_a_lead_has_field_data_arrays_and_plus_0000_times(fb, config, graph, page_token):
    fb.seed("lead", 1, None)
    lead = fb.records("lead").get()
    body = get(
        f"{graph}/{lead.remote_id}",
        page_token,
        fields="id,created_time,field_data,ad_id,adset_id,campaign_id,form_id,is_organic,platform",
    ).json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", body["created_time"])
    assert {"name": "email", "values": ["lead0@example.com"]} in body["field_data"]
    assert {"what_are_you_looking_for"} <= {f["name"] for f in body["field_data"]}  # a custom question
    assert body["form_id"] and body["ad_id"] and body["adset_id"] and body["campaign_id"]
    assert body["is_organic"] is False and body["platform"] == "fb"
    assert set(get(f"{graph}/{lead.remote_id}", page_token).json()) == {"id", "created_time", "field_data"}


def test_form_leads_page_by_cursor_newest_first_and_filter_on_time_created(fb, config, graph, page_token):
    fb.seed("lead", 7, None)
    form = fb.records("form").get()
    url, seen, pages = f"{graph}/{form.remote_id}/leads", [], 0
    body = get(url, page_token, limit=3).json()
    while True:
        pages += 1
        seen += body["data"]
        assert set(body["paging"]["cursors"]) == {"before", "after"}
        if "next" not in body["paging"]:
            break
        body = requests.get(body["paging"]["next"], params={"access_token": page_token}, timeout=10).json()
    assert pages == 3 and len({lead["id"] for lead in seen}) == 7
    times = [lead["created_time"] for lead in seen]
    assert times == sorted(times, reverse=True)
    cut = int(fb.records("lead").order_by("created_at")[3].data["created_unix"])
    rule = [{"field": "time_created", "operator": "GREATER_THAN", "value": cut}]
    newer = get(url, page_token, filtering=json.dumps(rule)).json()["data"]
    assert len(newer) == 3
    refused = get(url, page_token, filtering='[{"field":"time_created","operator":"AROUND","value":1}]')
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100


def test_revoked_and_expired_tokens_get_190_with_their_subcodes(fb, config, graph, page_token):
    short = fb.issue_user_token(long_lived=False)
    short.expires_at = short.created_at
    short.save()
    expired = get(f"{graph}/me", short.access_token)
    assert expired.status_code == 400
    assert (expired.json()["error"]["code"], expired.json()["error"]["error_subcode"]) == (190, 463)
    control(config, "revoke", {})
    revoked = get(f"{graph}/{config['pageId']}/leadgen_forms", page_token).json()["error"]
    assert (revoked["code"], revoked["error_subcode"], revoked["type"]) == (190, 460, "OAuthException")
    assert revoked["fbtrace_id"]


def test_throttling_is_400_with_code_and_usage_headers_never_retry_after(fb, config, graph, page_token):
    control(config, "settings", {"calls_per_hour": 2, "throttle_code": 32})
    assert get(f"{graph}/me", page_token).status_code == 200
    assert get(f"{graph}/me", page_token).status_code == 200
    blocked = get(f"{graph}/me", page_token)
    assert blocked.status_code == 400 and "Retry-After" not in blocked.headers
    assert blocked.json()["error"]["code"] == 32 and blocked.json()["error"]["is_transient"] is True
    assert json.loads(blocked.headers["X-App-Usage"])["call_count"] == 100
    [usage] = json.loads(blocked.headers["X-Business-Use-Case-Usage"]).values()
    assert usage[0]["estimated_time_to_regain_access"] >= 59  # the rest of the hour, in minutes


def test_leads_of_a_subscribed_page_are_posted_signed_and_retried_until_200(fb, config, receiver):
    fb.webhooks_connect(receiver.url, config=config, secret="")
    receiver.statuses = [500, 503]
    fb.seed("lead", 2, None)
    assert len(receiver.received) == 3  # two failures, then 200
    hook = fb.records("lead")  # the two leads went out in one POST, as Meta batches
    last = receiver.received[-1]
    request = WebhookRequest(method="POST", url=receiver.url, headers=last["headers"], body=last["body"])
    verify_facebook(request, secret=config["app_secret"])
    ids = {e.remote_id for e in webhooks.parse(request, config=config)}
    assert ids == set(hook.values_list("remote_id", flat=True))
    assert last["json"]["entry"][0]["changes"][0]["value"]["page_id"] == config["pageId"]


def test_an_unsubscribed_page_sends_nothing(fb, config, receiver):
    fb.webhooks_connect(receiver.url, config=config, secret="")
    fb.page_unsubscribe(config["pageId"])
    fb.seed("lead", 1, None)
    time.sleep(0.1)
    assert receiver.received == []


def test_a_batch_request_answers_each_request_with_its_code_and_json_body(fb, config, graph, page_token):
    fb.seed("lead", 2, None)
    ids = list(fb.records("lead").values_list("remote_id", flat=True))
    batch = [{"method": "GET", "relative_url": f"{i}?fields=id,form_id"} for i in [*ids, "4242424242"]]
    resp = requests.post(
        f"{graph}/", data={"batch": json.dumps(batch), "access_token": page_token}, timeout=10
    )
    answers = resp.json()
    assert [a["code"] for a in answers] == [200, 200, 400]
    assert [json.loads(a["body"])["id"] for a in answers[:2]] == ids
    assert json.loads(answers[2]["body"])["error"]["code"] == 100
    too_many = requests.post(
        f"{graph}/", data={"batch": json.dumps(batch * 17), "access_token": page_token}, timeout=10
    )
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == 100
