"""Measurement Protocol events: what GA4 would drop is refused before sending, batches are one
request per ``max_events_per_request`` events, and the emulator keeps what MP would."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors.capabilities import CLOSE_CONVERT_LEAD, EventSink, LeadEvent
from connectors.google_analytics.events import derived_client_id
from tests.connectors.google_analytics.conftest import control, lead_event

pytestmark = pytest.mark.django_db(transaction=True)


def state(config: dict) -> dict:
    return control(config, "state", {})


def test_events_problems_checks_names_params_and_sizes(connector):
    assert isinstance(connector, EventSink) and connector.max_events_per_request == 25
    events = [
        lead_event(1),
        lead_event(2, name="x" * 41),
        lead_event(3, name="1st_lead"),
        lead_event(4, name="google_lead"),
        lead_event(5, name="ga_lead"),
        lead_event(6, name="firebase_lead"),
        lead_event(7, name="lead-form"),
        lead_event(8, **{f"p{i}": i for i in range(26)}),
        lead_event(9, stage="s" * 101),
        lead_event(10, stage="s" * 100),
        lead_event(11, name="session_start"),
        lead_event(12, **{"ga_param": 1}),
        LeadEvent(
            name="generate_lead",
            record_type="contact",
            record_id=13,
            user_id="c13",
            occurred_at=datetime.now(UTC) - timedelta(hours=73),
        ),
    ]
    problems = connector.events_problems(events)
    assert problems[0] is None and problems[9] is None
    assert "longer than 40" in problems[1]
    assert "start with a letter" in problems[2] and "start with a letter" in problems[6]
    assert all("reserves" in problems[i] for i in (3, 4, 5, 11))
    assert "at most 25" in problems[7]
    assert "longer than 100" in problems[8]
    assert "reserved" in problems[10]
    assert "72 hours" in problems[12]


def test_the_emulators_validation_server_agrees(config):
    url = f"{config['collect_url']}/debug/mp/collect"
    bad = {
        "client_id": "1.2",
        "events": [{"name": "ga_x"}, {"name": "ok_event", "params": {"v": "x" * 101}}] + [{"name": "e"}] * 24,
    }
    messages = requests.post(url, json=bad, params={"measurement_id": "G-SANDBOX123"}, timeout=10).json()[
        "validationMessages"
    ]
    codes = {(m["fieldPath"], m["validationCode"]) for m in messages}
    assert ("events", "EXCEEDED_MAX_ENTITIES") in codes
    assert ("events[0].name", "NAME_RESERVED") in codes
    assert ("events[1].params.v", "VALUE_OUT_OF_BOUNDS") in codes
    good = {"client_id": "1.2", "events": [{"name": "generate_lead", "params": {"value": 1}}]}
    assert requests.post(url, json=good, timeout=10).json() == {"validationMessages": []}


def test_collect_answers_204_whatever_it_gets_and_keeps_only_valid_events(config):
    url = f"{config['collect_url']}/mp/collect"
    params = {"measurement_id": config["measurementId"], "api_secret": config["apiSecret"]}
    assert requests.post(url, data=b"not json", params=params, timeout=10).status_code == 204
    body = {"client_id": "1.2", "events": [{"name": "generate_lead"}, {"name": "bad name"}]}
    assert requests.post(url, json=body, params=params, timeout=10).status_code == 204
    wrong_secret = {**params, "api_secret": "wrong-secret"}
    assert requests.post(url, json=body, params=wrong_secret, timeout=10).status_code == 204
    now = state(config)
    assert now["events"] == {config["measurementId"]: 1} and now["mp_requests"][config["measurementId"]] == 3


def test_a_thousand_events_take_one_request_per_batch(connector, config):
    """40 visitors with 25 events each, in visitor order: every batch of
    ``max_events_per_request`` is one visitor's, hence one MP request. (A thousand prove it as
    well as ten thousand did, in a tenth of the time: each event is a row in the emulator.)"""
    size = connector.max_events_per_request
    events = [lead_event(n, client_id=f"{n // size}.1700000000") for n in range(1_000)]
    assert not any(connector.events_problems(events))
    for start in range(0, len(events), size):
        connector.events_send(events[start : start + size])
    now = state(config)
    assert now["mp_requests"][config["measurementId"]] == math.ceil(1_000 / size) == 40
    assert now["events"][config["measurementId"]] == 1_000


def test_a_contact_without_ga_cookie_is_sent_with_a_derived_client_id_and_its_user_id(connector, ga):
    event = lead_event(7, name=CLOSE_CONVERT_LEAD, client_id="", value=1200, currency="USD")
    connector.events_send([event])
    [stored] = list(ga.records("event").values_list("data", flat=True))
    assert stored["user_id"] == "contact-7" and stored["client_id"] == derived_client_id("contact-7")
    assert stored["params"]["value"] == 1200 and stored["name"] == CLOSE_CONVERT_LEAD
    assert stored["timestamp_micros"] == int(event.occurred_at.timestamp() * 1_000_000)
    assert derived_client_id("contact-7") == derived_client_id("contact-7") != derived_client_id("contact-8")


def test_events_of_several_visitors_go_one_request_per_visitor(connector, config):
    connector.events_send(
        [lead_event(1, client_id="1.1"), lead_event(2, client_id="2.2"), lead_event(3, client_id="1.1")]
    )  # a visitor's client_id alone names it: events 1 and 3 share a request
    assert state(config)["mp_requests"][config["measurementId"]] == 2


def test_more_than_a_batch_is_refused_before_sending(connector, config):
    with pytest.raises(ValueError, match="at most 25"):
        connector.events_send([lead_event(n) for n in range(26)])
    assert state(config)["mp_requests"] == {}
