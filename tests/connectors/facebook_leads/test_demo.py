"""The sandbox's "simulate a Facebook lead" demo action (``POST _control/demo/simulate_lead``): a
made-up person fills in one of the Page's forms and the leadgen webhook goes out signed, retried
until 200, as for any new lead; the control URL is every emulator's."""

import requests

from connectors.base import WebhookRequest
from connectors.facebook_leads import webhooks
from connectors.signatures import verify_facebook


def demo(base_url: str, action: str, method: str = "post") -> requests.Response:
    return getattr(requests, method)(f"{base_url}/_control/demo/{action}", timeout=30)


def test_a_simulated_lead_is_delivered_to_the_subscription_signed_and_retried(fb, config, receiver):
    fb.webhooks_connect(receiver.url, config=config, secret="")
    receiver.statuses = [503]
    resp = demo(config["base_url"], "simulate_lead")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    lead = body["lead"]
    answers = {f["name"]: f["values"][0] for f in lead["field_data"]}
    assert answers["email"].endswith("@example.com") and " " in answers["full_name"]
    assert answers["phone_number"].startswith("+1") and answers["what_are_you_looking_for"]
    assert lead["form_id"] in {f.remote_id for f in fb.forms(config["pageId"])}
    assert lead["campaign_id"] == str(int(lead["ad_id"]) + 2)
    assert body["message"].startswith(f"Lead {answers['full_name']} <{answers['email']}> submitted")
    assert body["message"].endswith("it arrives through the webhook.")
    assert body["webhook"] == {"status_code": 200, "attempts": 2}

    last = receiver.received[-1]
    request = WebhookRequest(method="POST", url=receiver.url, headers=last["headers"], body=last["body"])
    verify_facebook(request, secret=config["app_secret"])
    assert [e.remote_id for e in webhooks.parse(request, config=config)] == [lead["id"], lead["id"]]


def test_without_a_subscription_the_lead_waits_for_the_next_sync(fb, config, receiver):
    body = demo(config["base_url"], "simulate_lead").json()
    assert body["webhook"] is None and "arrives with the next sync" in body["message"]
    assert fb.records("lead").filter(remote_id=body["lead"]["id"]).exists()
    assert receiver.received == []


def test_the_demo_control_url_is_every_emulators(fb, config, sandbox_url):
    assert demo(config["base_url"], "simulate_lead", "get").status_code == 405
    unknown = demo(config["base_url"], "delete_everything")
    assert unknown.status_code == 404 and "simulate_lead" in unknown.json()["error"]
    assert demo(f"{sandbox_url}/hubspot", "simulate_lead").status_code == 404  # offers none
