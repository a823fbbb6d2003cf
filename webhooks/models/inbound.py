"""What providers send us: each HTTP delivery as received, and each event in it."""

from django.db import models
from django.utils import timezone

from integrations.fields import EncryptedJSONField, PiiJSONField
from integrations.models import Integration, SubAccount

__all__ = ["InboundDelivery", "InboundEvent", "InboundReceipt"]


class InboundReceipt(models.Model):
    """A verified POST as the receiver acknowledged it: the one row written before the 2xx.

    Narrow on purpose: the integration, when, and one encrypted envelope holding the safe headers,
    the body and the sender's address. The INSERT is most of the receiver's time, and a delivery
    row (fourteen columns, five indexes, two foreign keys) costs about half as much again as this
    one. A worker files receipts into ``InboundDelivery`` rows within a second
    (``webhooks.inbound.parsing.receipts_file``), deleting each receipt in the transaction that
    creates its delivery: a receipt becomes one delivery, once. The table is a queue, empty but
    for what arrived in the last moments (or while the workers were down).
    """

    # No index of its own: the table stays near empty, and the foreign key still refuses a receipt
    # for an integration deleted since the receiver looked it up (the view answers 404).
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+", db_index=False)
    received_at = models.DateTimeField()
    # {"headers", "body", "remote_addr"}, encrypted: written by hand in one INSERT
    # (webhooks.inbound.insert), read as the stored token by the worker so one bad token fails alone.
    envelope = EncryptedJSONField()

    def __str__(self) -> str:
        return f"inbound receipt #{self.pk}"


class InboundDelivery(models.Model):
    """One POST (or GET challenge) to /webhooks/in/<provider>/<integration>/, verified or not.

    Rejected deliveries are kept too (counted and shown in the admin), but nothing unverified is
    ever processed. Headers are stored without credentials (signature and auth headers dropped).

    An accepted POST is acknowledged once its ``InboundReceipt`` is stored; a worker files the
    receipt as a delivery (``parse_status`` pending, ``received_at`` the receipt's), then turns it
    into ``InboundEvent`` rows, de-duplicated, and counts them (``events``, ``duplicates``), or
    marks it failed with the reason if its body cannot be read any more.
    """

    class ParseStatus(models.TextChoices):
        NONE = "", "—"  # refused deliveries and handshakes: nothing to turn into events
        PENDING = "pending", "Pending (acknowledged, not yet read)"
        PARSED = "parsed", "Parsed into events"
        FAILED = "failed", "Failed (body unreadable after the ack)"

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected (signature)"
        THROTTLED = "throttled", "Throttled"
        FORBIDDEN = "forbidden", "Forbidden (IP)"
        MALFORMED = "malformed", "Malformed"  # no longer written: unreadable bodies fail after the ack

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="inbound_deliveries")
    # Not indexed on its own: the (integration, outcome, received_at) index leads with it.
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="inbound_deliveries", db_index=False
    )
    provider = models.CharField(max_length=30)
    method = models.CharField(max_length=10, default="POST")
    headers = models.JSONField(default=dict)
    # The raw body as received, encrypted at rest and never rendered: some providers put credentials
    # in it (a Salesforce SessionId, Zoho's channel token). Kept for audit and replay forensics.
    body = EncryptedJSONField(null=True, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    verified = models.BooleanField(default=False)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    events = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)  # a filed receipt's own
    parse_status = models.CharField(max_length=10, choices=ParseStatus.choices, default="", blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "inbound deliveries"
        indexes = [
            models.Index(fields=["integration", "outcome", "received_at"]),
            # Only the few rows a worker has still to read into events.
            models.Index(fields=["id"], condition=models.Q(parse_status="pending"), name="inbound_unparsed"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} delivery #{self.pk} ({self.outcome})"


class InboundEvent(models.Model):
    """One change a provider told us about, de-duplicated on (integration, provider event id)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (stale or not synced)"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Failed (retries exhausted)"

    MAX_ATTEMPTS = 5

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="inbound_events")
    # Not indexed on its own: the unique (integration, event_id) constraint leads with it.
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="inbound_events", db_index=False
    )
    delivery = models.ForeignKey(InboundDelivery, on_delete=models.CASCADE, related_name="inbound_events")
    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100, blank=True)
    entity = models.CharField(max_length=20, blank=True)
    remote_id = models.CharField(max_length=120, blank=True)
    action = models.CharField(max_length=20, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    payload = PiiJSONField(default=dict)  # the provider's record: encrypted at rest (ENCRYPT_PII)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "event_id"], name="uniq_inbound_event"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="inbound_due"),
            models.Index(fields=["integration", "entity", "remote_id"], name="inbound_record"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type or self.action} {self.remote_id} ({self.status})"
