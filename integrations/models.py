"""Tenancy, the catalog and each sub-account's integrations."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey

from connectors.registry import is_registered
from integrations.config_schema import with_sender_allowlist
from integrations.fields import EncryptedJSONField

# The seed's enrichment and automation toggles: defaults on SubAccount, overrides on Integration
# (integrations.automation.automation_settings_for reads the two together).
AUTOMATION_SETTINGS = (
    "auto_enrich",
    "auto_score",
    "auto_assign",
    "auto_create_tasks",
    "auto_create_deals",
    "deal_threshold",
)


class SubAccount(models.Model):
    """The tenant. Every tenant-owned row points here and every query is scoped by it."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    default_region = models.CharField(
        max_length=2, default="US", help_text="ISO country used to read phone numbers without +"
    )
    is_active = models.BooleanField(default=True)
    # Enrichment and automation defaults (seed 002); each integration may override them. Records
    # arriving through an integration follow its settings, records written through the API these.
    auto_enrich = models.BooleanField(
        default=False, help_text="Enrich new and changed contacts and companies"
    )
    auto_score = models.BooleanField(default=False, help_text="Score them 0-100 with reasons")
    auto_assign = models.BooleanField(
        default=False, help_text="Give unowned records an owner by the owner rules"
    )
    auto_create_tasks = models.BooleanField(
        default=False, help_text="Create a follow-up task with the suggested next action"
    )
    auto_create_deals = models.BooleanField(
        default=False, help_text="Create a deal once when the score reaches the deal threshold"
    )
    deal_threshold = models.PositiveSmallIntegerField(
        default=70, validators=[MaxValueValidator(100)], help_text="Score at which a deal is created"
    )
    notification_emails = models.TextField(
        blank=True,
        help_text="Also told when an integration fails, besides the members: addresses, one a line or comma-separated",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = "sub-account"

    def __str__(self) -> str:
        return self.name or self.slug


class Membership(models.Model):
    """Which staff users may manage which sub-accounts (superusers manage all)."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ADMIN)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "subaccount"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.subaccount}"


class ApiKey(AbstractAPIKey):
    """Hashed, prefixed, revocable; only the prefix is ever shown again."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"


class IntegrationTemplate(models.Model):
    """A catalog entry, loaded from ``integrations/catalog/<key>.json`` or made by an operator.

    ``version`` is the catalog file's; ``edited`` is set when an operator changes the template in
    the admin or the API, and ``load_catalog`` then leaves it alone (``--force`` overwrites it).
    """

    class AuthType(models.TextChoices):
        OAUTH2 = "oauth2", "OAuth 2"
        API_KEY = "api_key", "API key / token"
        BASIC = "basic", "Basic auth"
        NONE = "none", "None"

    key = models.SlugField(unique=True)
    display_name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=40)
    icon = models.CharField(max_length=200, blank=True, help_text="Static path or emoji")
    is_active = models.BooleanField(default=True)
    config_schema = models.JSONField(default=dict)
    setup_instructions = models.TextField(blank=True, help_text="Markdown")
    connector = models.CharField(max_length=50, help_text="Registry key in connectors/registry.py")
    auth_type = models.CharField(max_length=10, choices=AuthType.choices)
    api_version = models.CharField(max_length=40, blank=True)
    capabilities = models.JSONField(default=dict)
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Default webhook URL for the provider, if it has one"
    )
    version = models.PositiveIntegerField(default=1, help_text="The catalog file's version")
    edited = models.BooleanField(
        default=False, help_text="Changed by an operator: load_catalog keeps it unless run with --force"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "display_name"]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, **kwargs) -> None:
        self.config_schema = with_sender_allowlist(self.config_schema, self.capabilities)
        super().save(*args, **kwargs)

    @property
    def is_available(self) -> bool:
        """Chosen in the wizard only when active and its connector is built."""
        return self.is_active and is_registered(self.connector)


# Hours (UTC) a weekly full sync may be given by default: night in Europe and the Americas.
QUIET_HOURS_UTC = (1, 2, 3, 4, 5, 6)


def full_sync_slot_default(pk: int) -> tuple[int, int]:
    """The weekly full sync's default (weekday, UTC hour), derived from the integration's id so
    that integrations spread over the week's quiet hours instead of all starting at once."""
    return pk % 7, QUIET_HOURS_UTC[(pk // 7) % len(QUIET_HOURS_UTC)]


class Integration(models.Model):
    """One sub-account's connection to one outside system."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ERROR = "error", "Error"
        DISCONNECTED = "disconnected", "Disconnected"

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        HEALTHY = "healthy", "Healthy"
        DEGRADED = "degraded", "Degraded"
        FAILING = "failing", "Failing"

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound (CRM → app)"
        OUTBOUND = "outbound", "Outbound (app → CRM)"
        BIDIRECTIONAL = "bidirectional", "Two-way"

    class ConflictStrategy(models.TextChoices):
        APP_WINS = "app_wins", "App wins"
        CRM_WINS = "crm_wins", "CRM wins"
        NEWEST_WINS = "newest_wins", "Newest wins"
        MANUAL = "manual", "Manual"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    class DeletePolicy(models.TextChoices):
        IGNORE = "ignore", "Ignore deletes"
        ARCHIVE = "archive", "Archive locally"
        PROPAGATE = "propagate", "Propagate both ways"

    # How the integration syncs, as the operator sets it: the admin page, the wizard's review
    # step, the API and integration_update all take their list of settings from here.
    SYNC_SETTINGS = (
        "direction",
        "conflict_strategy",
        "sync_interval_minutes",
        "delete_policy",
        *AUTOMATION_SETTINGS,
        "weekly_full_sync",
        "full_sync_weekday",
        "full_sync_hour",
    )

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="integrations")
    template = models.ForeignKey(IntegrationTemplate, on_delete=models.PROTECT, related_name="integrations")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    config = EncryptedJSONField(default=dict)
    tokens = EncryptedJSONField(null=True, blank=True)  # OAuth: access, refresh, expires_at, ...
    webhook_secret = EncryptedJSONField(null=True, blank=True)
    # What the connector registered at the provider (subscription ids), so it can be removed.
    webhook_subscription = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.PENDING)
    reauthorization_needed = models.BooleanField(default=False)
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True)
    last_test_message = models.CharField(max_length=500, blank=True)
    # The last connection test's ``TestResult.details`` (quota usage under connectors.types.USAGE_KEY).
    last_test_details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    direction = models.CharField(max_length=15, choices=Direction.choices, default=Direction.BIDIRECTIONAL)
    conflict_strategy = models.CharField(
        max_length=15, choices=ConflictStrategy.choices, default=ConflictStrategy.NEWEST_WINS
    )
    sync_interval_minutes = models.PositiveIntegerField(default=15)
    delete_policy = models.CharField(
        max_length=10, choices=DeletePolicy.choices, default=DeletePolicy.ARCHIVE
    )
    # Blank (None) follows the sub-account's default of the same name (automation_settings_for).
    auto_enrich = models.BooleanField(null=True, blank=True, help_text="Blank: the sub-account's default")
    auto_score = models.BooleanField(null=True, blank=True, help_text="Blank: the sub-account's default")
    auto_assign = models.BooleanField(null=True, blank=True, help_text="Blank: the sub-account's default")
    auto_create_tasks = models.BooleanField(
        null=True, blank=True, help_text="Blank: the sub-account's default"
    )
    auto_create_deals = models.BooleanField(
        null=True, blank=True, help_text="Blank: the sub-account's default"
    )
    deal_threshold = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text="Blank: the sub-account's default",
    )
    # Once a week a full sync reconciles everything, deletes included (sync.schedules.full_sync_due).
    # integration_create spreads the slot with full_sync_slot_default; these defaults are fallbacks.
    weekly_full_sync = models.BooleanField(default=True, help_text="Run a full sync once a week")
    full_sync_weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, default=Weekday.SUNDAY, help_text="Day of the weekly full sync (UTC)"
    )
    full_sync_hour = models.PositiveSmallIntegerField(
        default=3, validators=[MaxValueValidator(23)], help_text="Hour of the weekly full sync, 0-23 UTC"
    )
    # A failure incident (sync/notifications.py): opened by the first failure, which alone e-mails
    # the sub-account; closed by a successful run while active.
    incident_opened_at = models.DateTimeField(null=True, blank=True)
    incident_notified_at = models.DateTimeField(null=True, blank=True)
    # Token-refresh lease: one process refreshes, the others wait and re-read (connectors/oauth.py).
    token_lock_owner = models.CharField(max_length=64, blank=True)
    token_lock_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subaccount", "status"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.template.display_name})"

    @property
    def connector_key(self) -> str:
        return self.template.connector


class OAuthApp(models.Model):
    """The operator's own app at one provider (client id and secret), used by every integration of
    that provider whose config names no app of its own. The secret is encrypted and never shown."""

    provider = models.CharField(max_length=50, unique=True, help_text="Connector key, e.g. hubspot")
    client_id = models.CharField(max_length=200)
    client_secret = EncryptedJSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider"]
        verbose_name = "OAuth app"

    def __str__(self) -> str:
        return f"{self.provider} OAuth app"


class OAuthState(models.Model):
    """One pending authorization: single use, short-lived, bound to one integration."""

    state_hash = models.CharField(max_length=64, unique=True)
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="oauth_states")
    code_verifier = EncryptedJSONField()
    redirect_uri = models.URLField(max_length=500)
    return_to = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"OAuth state for integration {self.integration_id}"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at


class AuditLog(models.Model):
    """Who changed what. ``changes`` never holds a secret: secret fields show as "[changed]".

    What was changed is named by ``object_type``/``object_id``/``object_repr`` as well as by the
    ``integration`` link: they outlive a deleted integration, and name outbound webhook endpoints,
    which live in the webhooks layer above this one (so no foreign key reaches them).
    """

    class ObjectType(models.TextChoices):
        INTEGRATION = "integration", "Integration"
        ENDPOINT = "webhook_endpoint", "Webhook endpoint"
        SUBACCOUNT = "subaccount", "Sub-account settings"

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="audit_logs")
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_logs"
    )
    object_type = models.CharField(max_length=30, choices=ObjectType.choices, blank=True, db_index=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    object_repr = models.CharField(max_length=300, blank=True, help_text="Its name (an endpoint: its URL)")
    actor = models.CharField(max_length=200, help_text="user:<name>, api_key:<prefix> or system")
    action = models.CharField(max_length=50)
    changes = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"
