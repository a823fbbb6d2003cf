"""Emulator state, in the database so web and worker processes see the same provider."""

from django.db import models


class SandboxRecord(models.Model):
    """One provider object (a HubSpot contact, a Salesforce Account...) in its own shape."""

    provider = models.CharField(max_length=30)
    object_type = models.CharField(max_length=40)
    remote_id = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "connectors"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "object_type", "remote_id"], name="uniq_sandbox_record"
            )
        ]
        indexes = [
            models.Index(
                fields=["provider", "object_type", "archived", "updated_at", "id"], name="sandbox_delta"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.object_type}/{self.remote_id}"


class SandboxAssociation(models.Model):
    """One directed association between two emulated records, with its type (HubSpot's v4
    association type id). An association is kept as two rows, one per direction, each with the
    type id of its own direction, so either side reads it with one indexed query."""

    provider = models.CharField(max_length=30)
    from_type = models.CharField(max_length=40)
    from_id = models.CharField(max_length=40)
    to_type = models.CharField(max_length=40)
    to_id = models.CharField(max_length=40)
    type_id = models.PositiveIntegerField()
    category = models.CharField(max_length=30, default="HUBSPOT_DEFINED")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "connectors"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "from_type", "from_id", "to_type", "to_id", "type_id"],
                name="uniq_sandbox_association",
            )
        ]
        indexes = [
            models.Index(fields=["provider", "from_type", "to_type", "from_id"], name="sandbox_assoc_from"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.provider}:{self.from_type}/{self.from_id} → {self.to_type}/{self.to_id} ({self.type_id})"
        )


class SandboxToken(models.Model):
    provider = models.CharField(max_length=30)
    access_token = models.CharField(max_length=400, unique=True)
    refresh_token = models.CharField(max_length=400, blank=True, db_index=True)
    kind = models.CharField(max_length=20, default="oauth")  # oauth / private_app
    client_id = models.CharField(max_length=200, blank=True)
    scopes = models.JSONField(default=list)
    data = models.JSONField(default=dict)  # instance_url, hub_id, org id ...
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "connectors"

    def __str__(self) -> str:
        return f"{self.provider} token {self.access_token[:8]}…"


class SandboxAuthCode(models.Model):
    provider = models.CharField(max_length=30)
    code = models.CharField(max_length=100, unique=True)
    client_id = models.CharField(max_length=200)
    redirect_uri = models.CharField(max_length=500)
    code_challenge = models.CharField(max_length=200, blank=True)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField()
    used = models.BooleanField(default=False)

    class Meta:
        app_label = "connectors"

    def __str__(self) -> str:
        return f"{self.provider} code"


class SandboxState(models.Model):
    """Per-provider knobs: injected faults, rate-limit switch, settings (caps, OAuth app)."""

    provider = models.CharField(max_length=30, unique=True)
    settings = models.JSONField(default=dict)
    latency_ms = models.PositiveIntegerField(default=0)
    fail_status = models.PositiveIntegerField(default=0)
    fail_count = models.PositiveIntegerField(default=0)
    ratelimit_count = models.PositiveIntegerField(default=0)
    rate_limit_enabled = models.BooleanField(default=True)
    requests = models.PositiveBigIntegerField(default=0)

    class Meta:
        app_label = "connectors"

    def __str__(self) -> str:
        return f"{self.provider} state"


class SandboxWebhook(models.Model):
    """A webhook the emulator sent: what, where, and how the target answered."""

    provider = models.CharField(max_length=30)
    target_url = models.CharField(max_length=500)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    status_code = models.IntegerField(null=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "connectors"

    def __str__(self) -> str:
        return f"{self.provider} webhook → {self.target_url}"
