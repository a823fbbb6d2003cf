"""Reading acknowledged deliveries into events, on a worker: what the receiver leaves out of its 2xx.

The receiver stores each verified delivery as a narrow receipt. ``receipts_file`` takes a batch of
receipts (``integrations.claims.rows_take``: a receipt is a taker's only if its DELETE removed it)
and, in the same transaction, creates their deliveries (``parse_status`` pending, received when
the receipt was), so a receipt becomes one delivery, once. ``deliveries_parse`` files what is
waiting, then claims a batch of pending deliveries (``integrations.claims.rows_claim``) and, in
the same transaction, parses each with its connector, inserts its events de-duplicated on
(integration, event id) and records how many were new. The claim and the events commit together
or not at all, so a worker that dies mid-way leaves the deliveries pending for the next run, and a
delivery is read into events exactly once however many runs race for it. A delivery that can no
longer be read (the connector refuses the body, the body cannot be decrypted) is marked failed
with the reason, shown in the admin, and can be read again from there
(``inbound_deliveries_reparse``); it never blocks the others.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from requests.structures import CaseInsensitiveDict

from connectors.base import ConnectorError, WebhookEvent, WebhookRequest
from connectors.registry import UnknownConnector, connector_class
from integrations.claims import rows_claim, rows_take
from integrations.crypto import DecryptionError, decrypt_json
from integrations.models import Integration
from integrations.oauth_apps import connector_config
from integrations.request_address import address_or_none
from webhooks.inbound.events import event_key, event_row
from webhooks.inbound.insert import body_bytes, events_insert
from webhooks.models import InboundDelivery, InboundEvent, InboundReceipt

logger = logging.getLogger(__name__)

ParseStatus = InboundDelivery.ParseStatus
PARSE_BATCH = 100
FILE_BATCH = 500
_REASON_MAX = InboundDelivery._meta.get_field("reason").max_length


class Unreadable(Exception):
    """A delivery whose body cannot be turned into events: it is marked failed, not retried."""


def receipts_file(*, limit: int = FILE_BATCH) -> int:
    """File up to ``limit`` receipts, oldest first, as pending deliveries; returns how many.

    A receipt whose envelope no key opens any more becomes a failed delivery with the reason.
    """
    with transaction.atomic():
        # The envelope as stored (a token), decrypted one by one below: a key problem fails that one.
        token = Cast("envelope", output_field=TextField())
        taken = rows_take(InboundReceipt, limit=limit, fields=("integration", "received_at", token))
        if not taken:
            return 0
        integrations = Integration.objects.select_related("template").in_bulk({row[0] for row in taken})
        deliveries = [
            _filed(integrations[integration_id], received_at, envelope)
            for integration_id, received_at, envelope in taken
            if integration_id in integrations  # the foreign key keeps it so: deleted together
        ]
        InboundDelivery.objects.bulk_create(deliveries)
    return len(taken)


def _filed(integration: Integration, received_at, token: str) -> InboundDelivery:
    delivery = InboundDelivery(
        subaccount_id=integration.subaccount_id,
        integration=integration,
        provider=integration.template.connector,
        method="POST",
        verified=True,
        outcome=InboundDelivery.Outcome.ACCEPTED,
        parse_status=ParseStatus.PENDING,
        received_at=received_at,
    )
    try:
        received = decrypt_json(token, label="InboundReceipt.envelope")
        if not isinstance(received, dict):
            raise DecryptionError("InboundReceipt.envelope does not hold what the receiver writes")
    except DecryptionError as exc:
        delivery.parse_status, delivery.reason = ParseStatus.FAILED, str(exc)[:_REASON_MAX]
        logger.warning(
            "inbound receipt unreadable: filed as a failed delivery",
            extra={"integration_id": integration.pk},
        )
        return delivery
    delivery.headers = received.get("headers") or {}
    delivery.body = received.get("body")
    # Checked again here: a value the address column refuses would fail the whole batch.
    delivery.remote_addr = address_or_none(received.get("remote_addr"))
    return delivery


def deliveries_parse(*, limit: int = PARSE_BATCH) -> int:
    """File what receipts are waiting, then read up to ``limit`` pending deliveries, oldest first,
    into pending events; returns how many deliveries this call took (parsed or failed)."""
    receipts_file()
    with transaction.atomic():
        claimed = rows_claim(
            InboundDelivery,
            where=Q(parse_status=ParseStatus.PENDING),
            order_by=("pk",),
            limit=limit,
            values={"parse_status": ParseStatus.PARSED},
        )
        if not claimed:
            return 0
        deliveries = list(
            InboundDelivery.objects.filter(pk__in=claimed)
            .defer("body")
            .select_related("integration")
            .order_by("pk")
        )
        bodies = _bodies(claimed)
        rows: list[InboundEvent] = []
        for delivery in deliveries:
            try:
                events = _parse(delivery, bodies.get(delivery.pk))
            except Unreadable as exc:
                delivery.parse_status, delivery.reason = ParseStatus.FAILED, str(exc)[:_REASON_MAX]
                logger.warning(
                    "inbound delivery unreadable after its ack",
                    extra={"integration_id": delivery.integration_id, "delivery_id": delivery.pk},
                )
                continue
            delivery.events = len(events)
            unique: dict[str, WebhookEvent] = {}
            for event in events:
                unique.setdefault(event_key(delivery.provider, event), event)
            rows += _received_rows(delivery, unique)
        stored = events_insert(rows)
        for delivery in deliveries:
            if delivery.parse_status == ParseStatus.PARSED:
                delivery.duplicates = delivery.events - stored[delivery.pk]
        InboundDelivery.objects.bulk_update(deliveries, ["parse_status", "reason", "events", "duplicates"])
    return len(deliveries)


def _bodies(ids: list[int]) -> dict[int, object]:
    """Each delivery's body still encrypted: decrypted one by one, a key problem fails that one only."""
    meta = InboundDelivery._meta
    qn = connection.ops.quote_name
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn(meta.pk.column)}, {qn('body')} FROM {qn(meta.db_table)} "  # noqa: S608 (metadata only)
            f"WHERE {qn(meta.pk.column)} IN ({placeholders})",
            ids,
        )
        return dict(cursor.fetchall())


def _parse(delivery: InboundDelivery, token: object) -> list[WebhookEvent]:
    try:
        connector = connector_class(delivery.provider)
    except UnknownConnector:
        raise Unreadable(f"no connector {delivery.provider!r}") from None
    try:
        body = body_bytes(decrypt_json(token, label="InboundDelivery.body") if token else "")
    except DecryptionError as exc:
        raise Unreadable(str(exc)) from None
    request = WebhookRequest(
        method=delivery.method,
        url="",  # the URL can carry a token (Salesforce's): never stored; parsing reads the body only
        headers=CaseInsensitiveDict(delivery.headers or {}),
        body=body,
        remote_addr=delivery.remote_addr or "",
    )
    config = connector_config(provider=delivery.provider, config=delivery.integration.config)
    try:
        return connector.parse_webhook(request, config=config)
    except ConnectorError as exc:
        raise Unreadable(f"the body cannot be read: {exc}") from None
    except Exception as exc:  # a connector bug: one poisoned delivery must not hold up the others
        logger.exception("inbound delivery parse crashed", extra={"delivery_id": delivery.pk})
        raise Unreadable(f"parsing crashed: {type(exc).__name__}: {exc}") from None


def _received_rows(delivery: InboundDelivery, events: dict[str, WebhookEvent]) -> list[InboundEvent]:
    """The delivery's event rows, ``created_at`` when it was received, a microsecond apart in the
    delivery's order: processing orders events without a time of their own by it (the insert goes
    in event-id order, see ``events_insert``), and the sweep's grace counts from arrival."""
    rows = []
    for position, (key, event) in enumerate(events.items()):
        row = event_row(delivery, key, event)
        row.created_at = delivery.received_at + timedelta(microseconds=position)
        rows.append(row)
    return rows
