"""Lead-lifecycle events on their way to analytics services (``sync.lead_events``): the outbox of
what each EventSink integration is sent, and where the queueing stopped reading the Change log."""

from django.db import models

from connectors.capabilities import CLOSE_CONVERT_LEAD, GENERATE_LEAD, QUALIFY_LEAD
from integrations.fields import PiiJSONField
from integrations.models import Integration, SubAccount

__all__ = ["LeadEventCursor", "LeadEventOutbox"]


class LeadEventCursor(models.Model):
    """Where ``sync.lead_events`` stopped reading one sub-account's Change log."""

    subaccount = models.OneToOneField(SubAccount, on_delete=models.CASCADE, related_name="+")
    position = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.subaccount_id} @ {self.position}"


class LeadEventOutbox(models.Model):
    """One event for one analytics integration: queued once (the unique constraint), sent once.

    ``payload`` holds the rest of the ``LeadEvent`` as it was when queued (user and client ids,
    when it happened, its params). A pending row is claimed by setting ``owner`` and
    ``locked_until`` (``integrations.claims``); a worker that dies leaves it to be claimed again
    once that time has passed.
    """

    class Event(models.TextChoices):
        GENERATE_LEAD = GENERATE_LEAD, "Lead generated"
        QUALIFY_LEAD = QUALIFY_LEAD, "Lead qualified"
        CLOSE_CONVERT_LEAD = CLOSE_CONVERT_LEAD, "Lead converted"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        INVALID = "invalid", "Invalid"

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="lead_events")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="lead_events")
    record_type = models.CharField(max_length=20, help_text="contact or deal")
    # Not a foreign key: one column serves two tables, like the Change log it is read from.
    record_id = models.BigIntegerField()
    visitor = models.CharField(
        max_length=255, blank=True, help_text="The client id (else user id) the event speaks for"
    )
    event = models.CharField(max_length=30, choices=Event.choices)
    stage = models.CharField(max_length=255, blank=True, help_text="The stage a qualify_lead entered")
    # The visitor's ids and the event's params: encrypted at rest (ENCRYPT_PII), read in Python only.
    payload = PiiJSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    available_at = models.DateTimeField(help_text="Not sent before (back-off after a transient error)")
    owner = models.CharField(max_length=32, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "lead event"
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "event", "record_type", "record_id", "stage"],
                name="sync_lead_event_once",
            )
        ]
        indexes = [
            models.Index(fields=["integration", "status", "available_at"], name="sync_lead_event_due_idx"),
            models.Index(fields=["subaccount", "status", "created_at"], name="sync_lead_event_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.record_type} {self.record_id} → {self.integration_id}"
