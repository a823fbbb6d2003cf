"""The system health page in a real browser: figures, both charts, dark mode and a phone's width."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from integrations.models import SubAccount
from tests.e2e.conftest import screenshot
from tests.factories import IntegrationFactory
from webhooks.models import InboundDelivery, InboundEvent, QueueSample
from webhooks.observability.queues import QUEUES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def seed_last_day():
    sub = SubAccount.objects.get(slug="acme")
    integration = IntegrationFactory(subaccount=sub)
    now = timezone.now()
    delivery = InboundDelivery.objects.create(
        subaccount=sub, integration=integration, provider="hubspot", outcome="accepted"
    )
    for n in range(30):
        event = InboundEvent.objects.create(
            subaccount=sub,
            integration=integration,
            delivery=delivery,
            provider="hubspot",
            event_id=f"e{n}",
            status="processed" if n % 7 else "pending",
        )
        InboundEvent.objects.filter(pk=event.pk).update(created_at=now - timedelta(minutes=45 * n))
    QueueSample.objects.bulk_create(
        QueueSample(sampled_at=now - timedelta(minutes=30 * n), queue=queue, depth=(n * (i + 1)) % 13)
        for n in range(48)
        for i, queue in enumerate(QUEUES)
    )


def test_the_system_health_page_at_desktop_and_phone_width(live_server, operator_page: Page):
    page = operator_page
    seed_last_day()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/")
    page.click("#quick-links >> text=System health")
    expect(page.locator("h1")).to_have_text("System health")
    expect(page.locator("#health-workers")).to_contain_text("None answering")
    expect(page.locator("#health-queues")).to_contain_text("enrichment")
    expect(page.locator("#chart-queues svg polyline.line")).to_have_count(len(QUEUES))
    expect(page.locator("#chart-traffic svg polyline.line")).to_have_count(2)
    screenshot(page, "system-health")

    page.emulate_media(color_scheme="dark")
    card = page.locator("#health-beat")
    background = card.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background != "rgb(255, 255, 255)", "the cards follow the admin's dark theme"
    page.emulate_media(color_scheme="light")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone ({width}px)"
    box = page.locator("#chart-queues svg").bounding_box()
    assert box is not None and box["width"] <= 390
