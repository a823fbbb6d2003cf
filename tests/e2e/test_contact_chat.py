"""The contact page's chat in a real browser: the conversation history from À La Carte Chat, its
embedded inbox (single sign-on), sending a message with an attachment, and "Refresh"."""

import pytest
from playwright.sync_api import Page, expect

from connectors.registry import emulator_module
from integrations.models import SubAccount
from sync import messaging
from sync.polling import poll
from sync.services import record_create
from tests.e2e.test_wizard import operator  # noqa: F401 (the logged-in operator fixture)
from tests.sandbox import emulator_control, sandbox_integration

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_contact_page_shows_the_conversation_and_sends_a_message(live_server, operator: Page):  # noqa: F811
    page = operator
    emulator_module("alacarte").emulator.reset()
    sub = SubAccount.objects.get(slug="acme")
    chat = sandbox_integration(sub, "alacarte", f"{live_server.url}/sandbox", settings={"sso_enabled": True})
    joe = record_create(
        subaccount=sub,
        entity="contact",
        fields={"first_name": "Joe", "last_name": "Bloggs", "email": "joe@bloggs.example"},
        origin="api_key:test",
    )
    customer = messaging.customer_id(chat, joe, create=True, actor="test")
    emulator_control(
        chat.config["base_url"],
        "inbound",
        {
            "customer_id": customer,
            "channel": "whatsapp",
            "content": "Hello, I need help with my order",
            "attachment": {"filename": "receipt.pdf", "type": "application/pdf", "size": 52468},
        },
    )
    poll(chat, ["activity"])

    page.goto(f"{live_server.url}/admin/sync/contact/{joe.pk}/change/")
    history = page.locator("[data-testid=chat-history]")
    expect(history).to_contain_text("Hello, I need help with my order")
    expect(history.locator(".chat-attachment")).to_contain_text("receipt.pdf")
    inbox = page.locator("iframe.chat-inbox")
    assert "/embed/inbox?token=" in (inbox.get_attribute("src") or "")
    expect(page.frame_locator("iframe.chat-inbox").locator("body")).to_contain_text(
        "Hello, I need help with my order"
    )

    page.select_option("#chat-channel", "whatsapp")
    page.fill("#chat-content", "Your order is ready for pickup.")
    page.set_input_files(
        "#chat-attachments",
        files=[{"name": "invoice.txt", "mimeType": "text/plain", "buffer": b"invoice 42"}],
    )
    page.click(".chat-send button[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("Sent on whatsapp")
    expect(history.locator(".chat-outbound")).to_contain_text("Your order is ready for pickup.")
    expect(history.locator(".chat-outbound .chat-attachment")).to_contain_text("invoice.txt")

    page.click(".chat-refresh button")
    expect(page.locator(".messagelist")).to_contain_text("Refreshed")
    expect(history.locator(".chat-message")).to_have_count(2)  # nothing stored twice
