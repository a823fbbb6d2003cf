"""Client onboarding (seed 000): the flow's tracking rows and what it made — portals, orders, audits.

``FlowStep`` is the seed's ``AITableSync``: one row per step of the flow (a portal to create, an
order to open, an audit to run) and per record sync with the table store, with the external record
id, its datasheet, the entity type, our id, the direction, a status and the error. A step's row is
also its job: it is claimed (``integrations.claims``), carried out stage by stage (each finished
stage noted in ``result``, so a retry resumes after the last one) and retried with back-off. Its
``key`` is unique per integration, which is what makes a replayed webhook, a second "Won" edit or
a retried task never make a second portal, order or audit.
"""

from django.db import models
from django.db.models import Q

from integrations.fields import BlindIndexField, EncryptedTextField, PiiJSONField, with_blind_indexes
from integrations.models import Integration, SubAccount
from integrations.pii import EMAIL
from sync.models.records import Contact

__all__ = ["FlowStep", "ClientPortal", "ClientOrder", "AuditResult"]


def _dict() -> dict:
    return {}


class FlowStep(models.Model):
    class EntityType(models.TextChoices):
        LEAD = "lead", "Lead"
        PORTAL = "portal", "Portal"
        ORDER = "order", "Order"
        AUDIT_RESULT = "audit_result", "Audit result"

    class Direction(models.TextChoices):
        # Shown (and filtered) as the seed names them: "<provider>_to_app" / "app_to_<provider>".
        INBOUND = "inbound", "Provider → platform"
        OUTBOUND = "outbound", "Platform → provider"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="flow_steps")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="flow_steps", help_text="The table store's"
    )
    key = models.CharField(max_length=200, help_text="What makes the step happen once, e.g. portal:rec123")
    entity_type = models.CharField(max_length=20, choices=EntityType.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    record_id = models.CharField(max_length=100, blank=True, help_text="The provider's record id (rec…)")
    datasheet_id = models.CharField(max_length=100, blank=True)
    internal_id = models.CharField(max_length=100, blank=True, help_text="Our id of the record")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # What the step works from (e.g. the uploaded file), and the stages it finished (the portal's
    # URL among them): encrypted at rest (ENCRYPT_PII), read in Python once the row is loaded.
    payload = PiiJSONField(default=_dict, blank=True)
    result = PiiJSONField(default=_dict, blank=True)
    available_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=32, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["integration", "key"], name="sync_flowstep_uniq_key")]
        indexes = [
            models.Index(fields=["record_id"], name="sync_flowstep_record_idx"),
            models.Index(fields=["internal_id"], name="sync_flowstep_internal_idx"),
            models.Index(fields=["entity_type"], name="sync_flowstep_entity_idx"),
            models.Index(
                fields=["available_at"],
                condition=Q(status__in=["pending", "running"]),
                name="sync_flowstep_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_entity_type_display()} {self.record_id or self.key} ({self.status})"


class ClientPortal(models.Model):
    """The portal made for one lead of a table-store integration."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="client_portals")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="client_portals")
    portal_integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    lead_record_id = models.CharField(max_length=100)
    remote_id = models.CharField(max_length=100)
    url = models.URLField(max_length=1000)
    status = models.CharField(max_length=20, default="pending")
    uploads_enabled = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    invited_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "lead_record_id"], name="sync_clientportal_uniq_lead"
            )
        ]
        indexes = [
            models.Index(fields=["portal_integration", "remote_id"], name="sync_clientportal_remote_idx")
        ]

    def __str__(self) -> str:
        return self.url


class ClientOrder(models.Model):
    """The order opened when a lead was won."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="client_orders")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="client_orders")
    portal = models.ForeignKey(ClientPortal, on_delete=models.SET_NULL, null=True, related_name="orders")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    lead_record_id = models.CharField(max_length=100)
    record_id = models.CharField(max_length=100, blank=True, help_text="The order's row id")
    # The lead's name and e-mail: encrypted at rest (ENCRYPT_PII); the admin finds an order by its
    # exact e-mail through the blind index.
    client_name = EncryptedTextField(max_length=255, blank=True)
    email = EncryptedTextField(max_length=254, blank=True)
    email_index = BlindIndexField(source="email", kind=EMAIL, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "lead_record_id"], name="sync_clientorder_uniq_lead"
            )
        ]

    def __str__(self) -> str:
        return f"Order for {self.client_name or self.lead_record_id}"

    def save(self, *args, **kwargs):
        # update_or_create saves with update_fields=[..., "email"]: the index goes with it.
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = with_blind_indexes(type(self), kwargs["update_fields"])
        super().save(*args, **kwargs)


class AuditResult(models.Model):
    """One uploaded payroll file, audited."""

    class Status(models.TextChoices):
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="audit_results")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="audit_results")
    portal = models.ForeignKey(ClientPortal, on_delete=models.SET_NULL, null=True, related_name="audits")
    order = models.ForeignKey(
        ClientOrder, on_delete=models.SET_NULL, null=True, blank=True, related_name="audits"
    )
    file_id = models.CharField(max_length=100)
    file_name = models.CharField(max_length=500)
    file_size = models.BigIntegerField(default=0)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    employees_processed = models.PositiveIntegerField(default=0)
    corrections_made = models.PositiveIntegerField(default=0)
    # What was wrong in which row, with the cells' values (pay, whatever lay beyond the last
    # column): encrypted at rest (ENCRYPT_PII).
    corrections = PiiJSONField(default=list, blank=True)
    corrected_file = models.CharField(max_length=500, blank=True, help_text="Path in the default storage")
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.TextField(blank=True)
    record_id = models.CharField(max_length=100, blank=True, help_text="The audit's row id")
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-processed_at"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "file_id"], name="sync_auditresult_uniq_file")
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"
