"""The wizard's lead-form questions: one per question the Page's forms ask, read from the emulated
Graph, starting at the default mappings; the answers stored as the wizard stores them steer a
lead's answers into the chosen contact fields. Attribution (campaign, ad set, ad, form, lead
source) lands on the contact by default."""

import time

import pytest

from connectors.capabilities import SetupChoices
from connectors.errors import ConfigError
from integrations.hooks import wizard_mappings_chosen
from sync.models import Contact, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from tests.connectors.facebook_leads.conftest import control
from tests.sandbox import sandbox_integration


@pytest.fixture
def second_form(fb, config):
    """A second form asking its own question and sharing the contact ones."""
    return fb.form_add(config["pageId"], "Quote request", questions=["budget"])


def test_one_question_per_form_question_starting_at_the_default_mapping(connector, second_form):
    assert isinstance(connector, SetupChoices)
    questions = {q.key: q for q in connector.setup_questions()}
    assert list(questions) == ["what_are_you_looking_for", "full_name", "email", "phone_number", "budget"]
    initial = {key: q.initial for key, q in questions.items()}
    assert initial == {
        "what_are_you_looking_for": "custom_fields.what_are_you_looking_for",
        "full_name": "split_name",
        "email": "email",
        "phone_number": "phone",
        "budget": "custom_fields.budget",
    }
    email = questions["email"]
    assert email.help_text == "Asked on: Spring offer, Quote request" and email.label == "Email"
    values = [value for value, _ in email.choices]
    assert {"first_name", "email", "phone", "mobile_phone", "job_title", "custom_fields.email", ""} <= set(
        values
    )
    assert "external_id" not in values and "split_name" not in values
    assert ("split_name", "First and last name (split)") in questions["full_name"].choices
    assert questions["budget"].group == "Lead form questions"


def test_the_initial_answers_give_the_default_contact_mappings_and_custom_fields(connector, second_form):
    initial = {q.key: q.initial for q in connector.setup_questions()}
    assert connector.setup_apply(initial).mappings == {
        "contact": {
            "custom:what_are_you_looking_for": "what_are_you_looking_for",
            "first_name": "first_name",
            "last_name": "last_name",
            "email": "email",
            "phone": "phone_number",
            "custom:budget": "budget",
        }
    }
    assert connector.setup_apply({}).mappings == connector.setup_apply(initial).mappings


def test_steering_a_question_away_switches_its_default_off(connector):
    answers = {"phone_number": "mobile_phone", "full_name": "custom_fields.full_name", "email": ""}
    assert connector.setup_apply(answers).mappings["contact"] == {
        "custom:what_are_you_looking_for": "what_are_you_looking_for",
        "custom:full_name": "full_name",
        "mobile_phone": "phone_number",
        "first_name": "",
        "last_name": "",
        "email": "",
        "phone": "",
    }


def test_answers_outside_the_choices_or_filling_one_field_twice_are_refused(connector):
    with pytest.raises(ConfigError, match="not one of the choices") as refused:
        connector.setup_apply({"email": "custom_fields.budget"})
    assert refused.value.field == "email"
    with pytest.raises(ConfigError, match="already filled"):
        connector.setup_apply({"what_are_you_looking_for": "email"})


@pytest.fixture
def integration(fb, catalog, subaccount, sandbox_url):
    return sandbox_integration(subaccount, "facebook_leads", sandbox_url)


def sync(integration):
    run = sync_run_request(integration=integration, kind="full", enqueue=False)
    return sync_run_execute(run_id=run.pk)


def lead_contact(integration, lead_id: str) -> Contact:
    link = EntityLink.objects.get(integration=integration, entity="contact", remote_id=lead_id)
    return Contact.objects.get(pk=link.local_id)


def add_lead(config, answer: str) -> dict:
    return control(
        config,
        "lead",
        {
            "field_data": [
                {"name": "email", "values": ["ana@example.com"]},
                {"name": "full_name", "values": ["Ana Lee"]},
                {"name": "phone_number", "values": ["+14155550100"]},
                {"name": "what_are_you_looking_for", "values": [answer]},
            ],
            "created_time": int(time.time()),
            "notify": False,
        },
    )


def test_a_custom_question_lands_in_the_field_chosen_in_the_wizard(fb, integration, connector):
    answers = {"what_are_you_looking_for": "job_title", "phone_number": "mobile_phone"}
    chosen = connector.setup_apply(answers).mappings
    wizard_mappings_chosen.send(sender=SetupChoices, integration=integration, mappings=chosen)

    lead = add_lead(integration.config, "wedding cakes")
    assert sync(integration).status == "succeeded"
    contact = lead_contact(integration, lead["id"])
    assert contact.job_title == "wedding cakes"
    assert contact.mobile_phone == "+14155550100" and not contact.phone
    assert (contact.first_name, contact.last_name, contact.email) == ("Ana", "Lee", "ana@example.com")
    assert "what_are_you_looking_for" not in contact.custom_fields


def test_the_contact_keeps_the_leads_attribution_by_default(fb, integration):
    lead = add_lead(integration.config, "cupcakes")
    assert sync(integration).status == "succeeded"
    contact = lead_contact(integration, lead["id"])
    assert contact.custom_fields == {
        "campaign_id": lead["campaign_id"],
        "adset_id": lead["adset_id"],
        "ad_id": lead["ad_id"],
        "form_id": lead["form_id"],
        "lead_source": "facebook",
    }


def test_an_instagram_lead_is_sourced_to_instagram(fb, integration):
    body = {
        "field_data": [{"name": "email", "values": ["ig@example.com"]}],
        "platform": "ig",
        "notify": False,
    }
    lead = control(integration.config, "lead", body)
    assert sync(integration).status == "succeeded"
    assert lead_contact(integration, lead["id"]).custom_fields["lead_source"] == "instagram"
