"""The admin's system health page: what a superuser sees for a seeded situation, who is refused,
how it reads when Redis or the workers are absent, and the queue sampler behind its chart."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.test_settings import redis_db_url
from integrations.models import Membership
from tests.factories import IntegrationFactory, SubAccountFactory
from webhooks.models import Delivery, Endpoint, InboundDelivery, InboundEvent, Message, QueueSample
from webhooks.observability import views
from webhooks.observability.health import duration, hours_back, system_health
from webhooks.observability.queues import QUEUES, broker_client
from webhooks.observability.sampling import queues_sample

pytestmark = pytest.mark.django_db
PAGE = "/admin/system-health/"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def superuser():
    return get_user_model().objects.create_superuser("operator", "op@example.com", "pw")


def staff(subaccount):
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.exclude(content_type__app_label="auth"))
    Membership.objects.create(user=user, subaccount=subaccount)
    return user


@pytest.fixture
def queues(settings):
    """A broker of this test's own (a Redis database nothing else uses: tasks other tests queue
    land in the real broker's), empty before and after."""
    settings.CELERY_BROKER_URL = own_broker_url(settings.REDIS_URL)
    redis = broker_client()
    redis.flushdb()
    yield redis
    redis.flushdb()


def own_broker_url(redis_url: str) -> str:
    """This pytest process's spare Redis database (config/test_settings.py: one per xdist worker)."""
    return redis_db_url(redis_url, settings.TEST_SPARE_REDIS_DB)


@pytest.fixture
def now():
    """The instant the data is seeded at."""
    return timezone.now()


@pytest.fixture
def seeded(now):
    acme = SubAccountFactory(slug="acme", name="Acme")
    integration = IntegrationFactory(subaccount=acme)
    delivery = InboundDelivery.objects.create(
        subaccount=acme, integration=integration, provider="hubspot", outcome="accepted"
    )
    event = InboundEvent.objects.create(
        subaccount=acme, integration=integration, delivery=delivery, provider="hubspot", event_id="e1"
    )
    InboundEvent.objects.filter(pk=event.pk).update(created_at=now - timedelta(minutes=12))
    endpoint = Endpoint.objects.create(subaccount=acme, url="https://example.com/in", secret="whsec_x")
    message = Message.objects.create(
        subaccount=acme, msg_id="msg_1", event_type="contact.created", payload={}
    )
    pending = Delivery.objects.create(message=message, endpoint=endpoint)
    Delivery.objects.filter(pk=pending.pk).update(created_at=now - timedelta(seconds=40))
    for minutes_ago, depth in ((90, 7), (80, 3), (5, 1)):
        QueueSample.objects.create(sampled_at=now - timedelta(minutes=minutes_ago), queue="sync", depth=depth)
    PeriodicTask.objects.filter(task="webhooks.queues_sample").update(last_run_at=now - timedelta(seconds=30))
    return acme


def test_a_superuser_sees_workers_queues_waits_beat_and_the_charts(client, seeded, queues, now, monkeypatch):
    # The page as of the seeding instant: the ages it shows are exact however long a busy machine
    # takes between seeding and rendering (a second late read "12 min 1 s").
    monkeypatch.setattr(views, "system_health", partial(system_health, now=now))
    queues.rpush("sync", "a", "b")
    queues.rpush("flows", "c")
    client.force_login(superuser())
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    context = response.context
    assert context["depths"] == {"default": 0, "sync": 2, "webhooks": 0, "enrichment": 0, "flows": 1}
    assert '<td>sync</td><td class="health-num">2</td>' in page
    waits = {wait.label: wait for wait in context["waits"]}
    assert waits["Oldest inbound webhook not yet applied"].text == "12 min"
    assert waits["Oldest inbound webhook not yet applied"].late  # past 5 minutes
    assert waits["Oldest pending outbound delivery"].text.endswith(" s")
    assert not waits["Oldest pending outbound delivery"].late
    assert waits["Oldest due enrichment job"].text == "nothing waiting"
    assert context["beat"].text == "30 s ago" and not context["beat"].late
    # No worker runs in this test: the broker answers, nobody pongs, and the page says so.
    assert context["workers"].hostnames == []
    assert "No worker answered within 0.5 s." in page and "None answering" in page
    chart = context["queue_chart"]
    assert not chart.empty
    sync_line = next(line for line in chart.lines if line.label == "sync")
    assert "sync 7" in " ".join(title for _x, _y, title in sync_line.dots)  # the hour's deepest sample
    assert 'id="chart-queues"' in page and 'id="chart-traffic"' in page
    assert not context["traffic_chart"].empty  # the inbound event and the delivery


def test_a_staff_member_is_refused_and_not_offered_the_link(client, seeded):
    client.force_login(staff(seeded))
    assert client.get(PAGE).status_code == 403
    assert PAGE not in client.get("/admin/").content.decode()


def test_the_admin_home_links_it_for_superusers(client, db):
    client.force_login(superuser())
    assert f'href="{PAGE}"' in client.get("/admin/").content.decode()


def test_anonymous_visitors_go_to_the_login_page(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@override_settings(CELERY_BROKER_URL=DEAD_REDIS)
def test_without_redis_the_page_still_renders_and_says_so(client, db):
    client.force_login(superuser())
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Queue depths unavailable: Redis did not answer" in page
    assert "Workers could not be asked: Redis did not answer" in page
    assert "No queue sample in the last 24 hours" in page
    assert response.context["beat"].text == "never" and response.context["beat"].late


@override_settings(CELERY_BROKER_URL="filesystem://")
def test_a_broker_other_than_redis_is_named(client, db):
    client.force_login(superuser())
    assert "the broker is filesystem://, not Redis" in client.get(PAGE).content.decode()


def test_the_sampler_records_every_queue_and_keeps_24_hours(queues):
    now = timezone.now()
    stale = QueueSample.objects.create(sampled_at=now - timedelta(hours=25), queue="sync", depth=9)
    kept = QueueSample.objects.create(sampled_at=now - timedelta(hours=23), queue="sync", depth=4)
    queues.rpush("webhooks", "x", "y", "z")
    assert queues_sample(now) == len(QUEUES)
    fresh = dict(QueueSample.objects.filter(sampled_at=now).values_list("queue", "depth"))
    assert fresh == {**dict.fromkeys(QUEUES, 0), "webhooks": 3}
    assert not QueueSample.objects.filter(pk=stale.pk).exists()
    assert QueueSample.objects.filter(pk=kept.pk).exists()


@override_settings(CELERY_BROKER_URL=DEAD_REDIS)
def test_a_tick_without_the_broker_records_nothing(db):
    assert queues_sample() == 0 and not QueueSample.objects.exists()


def test_the_sampler_is_scheduled_every_minute_by_the_migration(db):
    task = PeriodicTask.objects.get(task="webhooks.queues_sample")
    assert task.enabled and (task.interval.every, task.interval.period) == (1, "minutes")


def test_durations_and_hours_read_as_people_write_them():
    assert [duration(s) for s in (4, 60, 250, 3600, 7500, 90000)] == [
        "4 s",
        "1 min",
        "4 min 10 s",
        "1 h",
        "2 h 5 min",
        "1 d 1 h",
    ]
    hours = hours_back(timezone.now())
    assert len(hours) == 24 and hours[-1] - hours[0] == timedelta(hours=23)
