"""Enrichment, scoring and automation: each sub-account's scoring profile and rule tables, the job
queue that enriches records (and doubles as the seed's sync log), score history and the marks that
make every automated action happen once."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from integrations.fields import PiiJSONField
from integrations.models import Integration, SubAccount

__all__ = [
    "ScoringProfile",
    "NextActionRule",
    "OwnerRule",
    "ScoreHistory",
    "EnrichmentJob",
    "AutomationMark",
    "EnrichmentCursor",
]

SCORED_ENTITIES = [("contact", "Contact"), ("company", "Company")]


def _list() -> list:
    return []


class ScoringProfile(models.Model):
    """How one sub-account scores: its ideal customer profile, the weights of the four sub-scores,
    engagement decay, what to do with a provider's own score, and what automation creates."""

    class ProviderScore(models.TextChoices):
        IGNORE = "ignore", "Ignore the provider's score"
        REPLACE = "replace", "Use the provider's score instead"
        BLEND = "blend", "Blend it with ours"

    subaccount = models.OneToOneField(SubAccount, on_delete=models.CASCADE, related_name="scoring_profile")
    # Ideal customer profile: lists of accepted values (case-insensitive); empty means "any".
    icp_industries = models.JSONField(default=_list, blank=True, help_text='e.g. ["SaaS", "Fintech"]')
    icp_sizes = models.JSONField(
        default=_list, blank=True, help_text='Employee bands, e.g. ["51-200", "201-1000"]'
    )
    icp_countries = models.JSONField(default=_list, blank=True, help_text='ISO codes, e.g. ["GB", "US"]')
    icp_titles = models.JSONField(
        default=_list, blank=True, help_text='Title keywords, e.g. ["VP", "Head", "CTO"]'
    )
    weight_financial = models.PositiveSmallIntegerField(default=20)
    weight_growth = models.PositiveSmallIntegerField(default=20)
    weight_engagement = models.PositiveSmallIntegerField(default=30)
    weight_fit = models.PositiveSmallIntegerField(default=30)
    engagement_window_days = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(1)], help_text="Only activities this recent count"
    )
    engagement_half_life_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1)], help_text="An activity counts half after this long"
    )
    engagement_daily_cap = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text="At most this many activities of a type count per day",
    )
    provider_score = models.CharField(
        max_length=10, choices=ProviderScore.choices, default=ProviderScore.BLEND
    )
    provider_blend_percent = models.PositiveSmallIntegerField(
        default=50, validators=[MaxValueValidator(100)], help_text="The provider's share when blending"
    )
    field_prefix = models.CharField(
        max_length=40, default="platform_", help_text="Prefix of the custom fields pushed to CRMs"
    )
    deal_name_template = models.CharField(
        max_length=200, default="{company} — {name}", help_text="Fields: {name}, {company}, {email}, {score}"
    )
    deal_stage = models.CharField(max_length=100, blank=True, default="qualification")
    deal_pipeline = models.CharField(max_length=100, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    WEIGHTS = ("weight_financial", "weight_growth", "weight_engagement", "weight_fit")
    # What the operator edits (the admin form and the API's automation/ take their lists from here).
    EDITABLE = (
        "icp_industries",
        "icp_sizes",
        "icp_countries",
        "icp_titles",
        *WEIGHTS,
        "engagement_window_days",
        "engagement_half_life_days",
        "engagement_daily_cap",
        "provider_score",
        "provider_blend_percent",
        "field_prefix",
        "deal_name_template",
        "deal_stage",
        "deal_pipeline",
    )

    def __str__(self) -> str:
        return f"Scoring profile of {self.subaccount}"

    @property
    def weights(self) -> dict[str, int]:
        return {
            "financial": self.weight_financial,
            "growth": self.weight_growth,
            "engagement": self.weight_engagement,
            "fit": self.weight_fit,
        }


class NextActionRule(models.Model):
    """One row of the next-action table: for records scored in [min_score, max_score] (and, when
    set, carrying ``signal``), suggest ``action`` due in ``due_in_hours`` and the deal ``stage``.
    Rules are read in ``position`` order; every matching rule adds its action."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="next_action_rules")
    position = models.PositiveSmallIntegerField(default=0)
    min_score = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    max_score = models.PositiveSmallIntegerField(default=100, validators=[MaxValueValidator(100)])
    signal = models.CharField(max_length=100, blank=True, help_text="Only when the record has this signal")
    action = models.CharField(max_length=200)
    due_in_hours = models.PositiveIntegerField(default=48)
    stage = models.CharField(max_length=100, blank=True, help_text="Suggested deal stage (first match wins)")
    create_task = models.BooleanField(default=True, help_text="With auto_create_tasks on, open a task for it")
    is_active = models.BooleanField(default=True)

    EDITABLE = (
        "position",
        "min_score",
        "max_score",
        "signal",
        "action",
        "due_in_hours",
        "stage",
        "create_task",
        "is_active",
    )

    class Meta:
        ordering = ["subaccount", "position", "id"]

    def __str__(self) -> str:
        return f"{self.min_score}-{self.max_score}: {self.action}"


class OwnerRule(models.Model):
    """Auto-assign: the first rule whose territory and industry match gives the record an owner,
    round-robin among the rule's team. Empty criteria match anything."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="owner_rules")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=100)
    countries = models.JSONField(default=_list, blank=True, help_text='ISO codes, e.g. ["GB", "IE"]')
    regions = models.JSONField(default=_list, blank=True, help_text='e.g. ["CA", "NY"] (state or region)')
    postcode_prefixes = models.JSONField(default=_list, blank=True, help_text='e.g. ["SW1", "EC"]')
    industries = models.JSONField(default=_list, blank=True)
    team = models.JSONField(help_text='Owners taking turns, e.g. ["alice@acme.test", "bob@acme.test"]')
    next_index = models.PositiveIntegerField(default=0, help_text="Whose turn it is (round-robin)")
    is_active = models.BooleanField(default=True)

    EDITABLE = (
        "position",
        "name",
        "countries",
        "regions",
        "postcode_prefixes",
        "industries",
        "team",
        "is_active",
    )

    class Meta:
        ordering = ["subaccount", "position", "id"]

    def __str__(self) -> str:
        return self.name


class ScoreHistory(models.Model):
    """Every score a record had, so its movement can be explained."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    entity = models.CharField(max_length=20, choices=SCORED_ENTITIES)
    record_id = models.BigIntegerField()
    score = models.PositiveSmallIntegerField()
    breakdown = models.JSONField(default=dict)
    reasons = models.JSONField(default=list)
    scorer_version = models.CharField(max_length=40)
    cause = models.CharField(max_length=40, blank=True, help_text="change, decay, manual, ...")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "score history"
        indexes = [models.Index(fields=["entity", "record_id", "created_at"], name="sync_score_hist_rec_idx")]

    def __str__(self) -> str:
        return f"{self.entity} {self.record_id}: {self.score}"


class EnrichmentJob(models.Model):
    """One record to enrich, score and act on: the queue (claimed by priority, then age) and, once
    finished, the sync log the API lists (status, enrichments applied, durations, error).

    One pending job per record at most: a second request raises the pending one's priority."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="enrichment_jobs")
    integration = models.ForeignKey(
        Integration,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enrichment_jobs",
        help_text="Where the record came from (its toggles apply); blank for the API",
    )
    entity = models.CharField(max_length=20, choices=SCORED_ENTITIES)
    record_id = models.BigIntegerField()
    operation = models.CharField(max_length=10, default="update", help_text="create / update / rescore")
    priority = models.PositiveSmallIntegerField(
        default=5, validators=[MaxValueValidator(10)], help_text="0 (bulk) to 10 (now)"
    )
    skip_enrichment = models.BooleanField(default=False, help_text="Score and act, but ask no provider")
    reason = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    available_at = models.DateTimeField(help_text="Not claimed before this (retry back-off)")
    locked_until = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=64, blank=True)
    # What was applied (the values found among it): encrypted at rest (ENCRYPT_PII).
    enrichments = PiiJSONField(default=dict, blank=True, help_text="What was applied")
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    enrichment_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["-priority", "available_at", "id"],
                condition=Q(status="pending"),
                name="sync_enrich_job_queue_idx",
            ),
            models.Index(fields=["subaccount", "status", "created_at"], name="sync_enrich_job_log_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "record_id"],
                condition=Q(status="pending"),
                name="sync_enrich_job_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.record_id} ({self.status})"


class AutomationMark(models.Model):
    """An automated action done for a record (a task by rule, a deal at the threshold): unique, so
    re-scoring, retries and two workers at once never do it twice."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    entity = models.CharField(max_length=20, choices=SCORED_ENTITIES)
    record_id = models.BigIntegerField()
    action = models.CharField(max_length=60, help_text='"deal", "task:<rule id>", ...')
    created_entity = models.CharField(max_length=20, blank=True)
    created_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "record_id", "action"], name="sync_automation_mark_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.record_id}: {self.action}"


class EnrichmentCursor(models.Model):
    """Where ``sync.enrichment.feed`` stopped reading one sub-account's Change log (one cursor per
    tenant: one tenant's rows become visible in seq order, two tenants' need not)."""

    subaccount = models.OneToOneField(SubAccount, on_delete=models.CASCADE, related_name="+")
    position = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.subaccount_id} @ {self.position}"
