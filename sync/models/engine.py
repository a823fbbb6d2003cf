"""The sync engine's bookkeeping: mappings, links, cursors, runs, record errors, conflicts, leases."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from connectors.types import CANONICAL_ENTITIES
from integrations.fields import PiiJSONField
from integrations.models import Integration, SubAccount

__all__ = [
    "FieldMapping",
    "EntityLink",
    "SyncCursor",
    "SyncRun",
    "SyncRecordError",
    "Conflict",
    "SyncLease",
    "CreateIntent",
    "PendingRelation",
    "ENTITY_CHOICES",
]

# Every canonical entity (``connectors.base.CANONICAL_ENTITIES``): mappings, links, runs and conflicts
# exist for each one the platform syncs.
ENTITY_CHOICES = [(name, name.title()) for name in CANONICAL_ENTITIES]


class FieldMapping(models.Model):
    """One canonical field ↔ one remote field for an integration and entity.

    ``local_field`` is a canonical field name or ``custom:<key>`` (a key of ``custom_fields``).
    """

    class Direction(models.TextChoices):
        BOTH = "both", "Both ways"
        TO_REMOTE = "to_remote", "To remote only"
        FROM_REMOTE = "from_remote", "From remote only"
        NONE = "none", "Not synced"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="field_mappings")
    entity = models.CharField(max_length=20, choices=ENTITY_CHOICES)
    local_field = models.CharField(max_length=100)
    remote_field = models.CharField(max_length=100)
    direction = models.CharField(max_length=12, choices=Direction.choices, default=Direction.BOTH)
    transform = models.JSONField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["integration", "entity", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "entity", "local_field", "remote_field"], name="uniq_field_mapping"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity}.{self.local_field} ↔ {self.remote_field} ({self.direction})"


class EntityLink(models.Model):
    """Local record ↔ remote record for one integration, with the base snapshot both sides agreed on."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="links")
    entity = models.CharField(max_length=20, choices=ENTITY_CHOICES)
    local_id = models.BigIntegerField()
    remote_id = models.CharField(max_length=120)
    # The agreed field values: personal data, encrypted at rest when ENCRYPT_PII is on.
    base = PiiJSONField(default=dict)
    remote_modified_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(auto_now=True)
    # How the link was made by a push: "created", or the key an upserting provider matched an
    # existing record on ("email", "phone", "external_id"); "" for links made by a pull.
    matched_by = models.CharField(max_length=20, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "entity", "local_id"], name="uniq_link_local"),
            models.UniqueConstraint(fields=["integration", "entity", "remote_id"], name="uniq_link_remote"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.local_id} ↔ {self.remote_id}"


class SyncCursor(models.Model):
    """Where the last committed pull stopped (per entity), or the last pushed Change seq (entity "*")."""

    class Kind(models.TextChoices):
        PULL = "pull", "Pull"
        PUSH = "push", "Push"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="cursors")
    entity = models.CharField(max_length=20)
    kind = models.CharField(max_length=4, choices=Kind.choices)
    position = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "entity", "kind"], name="uniq_sync_cursor")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.entity} @ {self.position[:40]}"


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        FULL = "full", "Full"
        DELTA = "delta", "Delta"
        WEBHOOK = "webhook", "Webhook"
        MANUAL = "manual", "Manual"
        RETRY = "retry", "Retry"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    # The per-run tallies below, which the engine's Outcome counts and the admin and API show.
    COUNTERS = ("processed", "created", "updated", "unchanged", "deleted", "pushed", "conflicts", "failed")

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="sync_runs")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    direction = models.CharField(max_length=15, default="bidirectional")
    entities = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    pushed = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    phase = models.CharField(max_length=60, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["integration", "status"])]

    def __str__(self) -> str:
        # The run log, breadcrumbs and a record error's run read "Delta sync #12 · HubSpot (sandbox)".
        return f"{self.get_kind_display()} sync #{self.pk} · {self.integration.name}"

    @property
    def sentence(self) -> str:
        """The run as one line: "Delta sync · HubSpot (sandbox) · Acme · 685 records in 4.2 s"
        ("… · 312 records so far" while it runs); the run page's title."""
        parts = [f"{self.get_kind_display()} sync", self.integration.name, self.subaccount.name]
        seconds = self.duration_seconds
        if self.status == self.Status.QUEUED:
            parts.append("waiting to start")
        elif self.status in self.ACTIVE:
            parts.append(f"{self.processed} records so far")
        elif seconds is not None:
            parts.append(f"{self.processed} records in {seconds:.1f} s")
        else:
            parts.append(f"{self.processed} records")
        return " · ".join(parts)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def elapsed_seconds(self) -> float | None:
        """Seconds since it started: until now while it runs, its duration once it has finished."""
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def rate(self) -> float | None:
        """Records processed per second so far (None before the first second or record)."""
        elapsed = self.elapsed_seconds
        if not elapsed or not self.processed:
            return None
        return self.processed / elapsed

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the current rate, while it runs and the provider has told the total."""
        rate = self.rate
        if self.status not in self.ACTIVE or not self.progress_total or not rate:
            return None
        return max(0.0, (self.progress_total - self.processed) / rate)

    @property
    def progress_percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, int(self.processed * 100 / self.progress_total))


class SyncRecordError(models.Model):
    """One record that failed in a run; retried by the hourly job at most ``MAX_ATTEMPTS`` times."""

    MAX_ATTEMPTS = 3

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="record_errors")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="record_errors")
    entity = models.CharField(max_length=20)
    direction = models.CharField(max_length=4, choices=[("pull", "Pull"), ("push", "Push")])
    local_id = models.BigIntegerField(null=True, blank=True)
    remote_id = models.CharField(max_length=120, blank=True)
    message = models.TextField()
    code = models.CharField(max_length=80, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    resolved = models.BooleanField(default=False)
    # Set while a retry run holds the row (integrations.claims): two retries never take the same one.
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["integration", "resolved"])]

    def __str__(self) -> str:
        return f"{self.direction} {self.entity} {self.local_id or self.remote_id}: {self.message[:60]}"


class Conflict(models.Model):
    """A field changed on both sides to different values: open until a person decides (manual), or
    stored resolved with ``resolved_by="strategy:<name>"`` when the integration's strategy settled it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Choice(models.TextChoices):
        LOCAL = "local", "Keep local"
        REMOTE = "remote", "Take remote"
        CUSTOM = "custom", "Custom value"

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="conflicts")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="conflicts")
    entity = models.CharField(max_length=20, choices=ENTITY_CHOICES)
    local_id = models.BigIntegerField()
    remote_id = models.CharField(max_length=120)
    field = models.CharField(max_length=100)
    # Field values (a name, an e-mail): encrypted at rest when ENCRYPT_PII is on.
    local_value = PiiJSONField(null=True)
    remote_value = PiiJSONField(null=True)
    base_value = PiiJSONField(null=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(max_length=10, choices=Choice.choices, blank=True)
    resolved_value = PiiJSONField(null=True, blank=True)
    resolved_by = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "entity", "local_id", "field"],
                condition=Q(status="open"),
                name="uniq_open_conflict",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.local_id}.{self.field} ({self.status})"


class SyncLease(models.Model):
    """One sync per integration: taken and renewed with conditional UPDATEs (sync/lease.py)."""

    integration = models.OneToOneField(
        Integration, on_delete=models.CASCADE, primary_key=True, related_name="sync_lease"
    )
    owner = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"lease {self.integration_id} → {self.owner or 'free'}"


class CreateIntent(models.Model):
    """A create we are about to send, written (and committed) before the provider is called.

    The provider may create the record and the answer may never reach us (a timeout, a 503 from a
    proxy after the write, a worker killed before the link commits). While this row exists the
    local record's remote twin is unknown, not absent: the engine looks for it (the connector's
    ``find_created``) before pulling or creating again, so a retry never makes a duplicate on
    either side. Deleted in the transaction that stores the create's outcome.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="create_intents")
    entity = models.CharField(max_length=20, choices=ENTITY_CHOICES)
    local_id = models.BigIntegerField()
    # Record data, encrypted at rest when ENCRYPT_PII is on.
    payload = PiiJSONField(default=dict)  # what was sent, in the provider's field names
    base = PiiJSONField(default=dict)  # the canonical values sent: the link's base once found
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "entity", "local_id"], name="uniq_create_intent")
        ]

    def __str__(self) -> str:
        return f"creating {self.entity} {self.local_id} at integration {self.integration_id}"


class PendingRelation(models.Model):
    """A pulled relation whose target this integration has not linked yet (a deal pulled before its
    company): kept, never dropped, and applied by the engine when the target's link appears.

    ``remote_ids`` are the target entity's remote ids the provider named and we could not resolve;
    a to-many relation holds only its unresolved part (the rest was applied).
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="pending_relations")
    entity = models.CharField(max_length=20, choices=ENTITY_CHOICES)
    local_id = models.BigIntegerField()
    relation = models.CharField(max_length=40)
    target = models.CharField(max_length=20, choices=ENTITY_CHOICES)
    remote_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "entity", "local_id", "relation"], name="uniq_pending_relation"
            )
        ]
        indexes = [models.Index(fields=["integration", "target"], name="sync_pending_rel_target_idx")]

    def __str__(self) -> str:
        return f"{self.entity} {self.local_id}.{self.relation} → {self.target} {self.remote_ids}"
