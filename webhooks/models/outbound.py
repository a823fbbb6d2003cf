"""What we tell sub-accounts' apps: endpoints, messages, per-endpoint deliveries and their attempts."""

from django.db import models

from integrations.fields import EncryptedJSONField, PiiJSONField
from integrations.models import SubAccount

__all__ = ["Endpoint", "Message", "Delivery", "Attempt", "OutboxCursor", "DEFAULT_RETRY_SCHEDULE"]

DEFAULT_RETRY_SCHEDULE = [2, 4, 8]  # seconds after the first failure, then after each retry


class Endpoint(models.Model):
    """A URL of the sub-account's that receives signed events (Standard Webhooks)."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=300, blank=True)
    event_types = models.JSONField(default=list, blank=True, help_text="Empty: every event type")
    secret = EncryptedJSONField()  # "whsec_<base64>"
    previous_secret = EncryptedJSONField(null=True, blank=True)  # still signed with until it expires
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    rate_limit_per_second = models.PositiveIntegerField(null=True, blank=True)
    retry_schedule = models.JSONField(
        default=list, blank=True, help_text="Seconds between retries; empty: 2, 4, 8"
    )
    disable_after_failures = models.PositiveIntegerField(
        default=15, help_text="Consecutive failed deliveries"
    )
    disable_after_days = models.PositiveIntegerField(default=5, help_text="Days failing without a success")
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.url.split("?", 1)[0]  # a query string may carry a token


class Message(models.Model):
    """One event for a sub-account; fanned out to each subscribed endpoint as a Delivery."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="webhook_messages")
    msg_id = models.CharField(max_length=40, unique=True)  # the webhook-id header: "msg_..."
    event_type = models.CharField(max_length=100, db_index=True)
    # The envelope carries record data: encrypted at rest when ENCRYPT_PII is on. Every attempt
    # signs and sends json.dumps of the value read back, so every attempt sends the same bytes.
    payload = PiiJSONField()
    ordering_key = models.CharField(
        max_length=120, blank=True, help_text="e.g. contact:42 — delivered in order"
    )
    change_seq = models.BigIntegerField(null=True, blank=True, help_text="The Change row it came from")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One message per Change row, whatever races the outbox pump.
            models.UniqueConstraint(
                fields=["change_seq", "subaccount"],
                condition=models.Q(change_seq__isnull=False),
                name="uniq_message_change",
            ),
        ]
        indexes = [models.Index(fields=["ordering_key"], name="message_ordering")]

    def __str__(self) -> str:
        return f"{self.msg_id} {self.event_type}"


class Delivery(models.Model):
    """A message's journey to one endpoint. Due retries are found by querying ``next_attempt_at``."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (no more retries)"
        SKIPPED = "skipped", "Skipped (endpoint disabled)"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)  # claimed by a worker until then
    last_status_code = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["message", "endpoint"], name="uniq_delivery")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["endpoint", "status"], name="delivery_endpoint_status"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.endpoint_id} ({self.status})"


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.IntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)  # at most 1 KB
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} → {self.status_code or self.error}"


class OutboxCursor(models.Model):
    """How far the Change log has been turned into messages: one row per sub-account ("changes:<id>")."""

    name = models.CharField(max_length=40, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"
