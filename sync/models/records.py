"""Canonical records (Contact, Company, Deal, Conversation, Activity), the Change log and stored idempotency keys.

Field names are exactly the canonical names in ``connectors.base.CANONICAL_FIELDS``. Rows are written
only through ``sync.services``: it normalises values, bumps ``version`` and appends a ``Change`` in
the same transaction.
"""

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from integrations.fields import BlindIndexField, EncryptedTextField, PiiJSONField, with_blind_indexes
from integrations.models import SubAccount
from integrations.pii import EMAIL, PHONE

__all__ = [
    "CanonicalRecord",
    "Enrichment",
    "Contact",
    "Company",
    "Deal",
    "Conversation",
    "Activity",
    "DealContact",
    "Change",
    "IdempotencyKey",
]


def _index_update_fields(record: models.Model, kwargs: dict) -> None:
    """``save(update_fields=[...])`` of an indexed field writes its blind index too."""
    if kwargs.get("update_fields") is not None:
        kwargs["update_fields"] = with_blind_indexes(type(record), kwargs["update_fields"])


class CanonicalRecord(models.Model):
    """What every canonical record has: tenant, the sub-account's own id, custom fields, version."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="%(class)s_set")
    external_id = models.CharField(
        max_length=255, blank=True, default="", help_text="The sub-account's own id (unique when set)"
    )
    # Free-form values (often personal: a second e-mail, a title): encrypted at rest when ENCRYPT_PII
    # is on, so never queried by key in the database (nothing filters or orders by a custom field).
    custom_fields = PiiJSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change")
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set explicitly by the services' bulk writes, which do not apply auto_now.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        # ?updated_since= and "what changed lately" read within one sub-account.
        indexes = [
            models.Index(fields=["subaccount", "updated_at"], name="%(app_label)s_%(class)s_updated_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["subaccount", "external_id"],
                condition=~Q(external_id=""),
                name="%(app_label)s_%(class)s_uniq_external_id",
            )
        ]

    def save(self, *args, **kwargs):
        _index_update_fields(self, kwargs)
        super().save(*args, **kwargs)


class Enrichment(models.Model):
    """Scores and hints written by enrichment (``sync.enrichment``), never by the API or a sync."""

    score = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    score_breakdown = models.JSONField(
        default=dict, blank=True, help_text="Sub-scores 0-100: financial, growth, engagement, fit"
    )
    score_reasons = models.JSONField(
        default=list, blank=True, help_text='e.g. "+18 fit: industry SaaS in ICP"'
    )
    scorer_version = models.CharField(max_length=40, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    signals = models.JSONField(default=list, blank=True, help_text="Buying signals, e.g. hiring, funding")
    next_actions = models.JSONField(default=list, blank=True, help_text="[{action, due_at, rule}]")
    suggested_stage = models.CharField(max_length=64, blank=True)
    # What providers derived (domain, industry, size, country, summary, ...), each key owned by one.
    # An enrichment service may answer anything about a person: encrypted at rest (ENCRYPT_PII).
    enriched = PiiJSONField(default=dict, blank=True)
    enriched_at = models.DateTimeField(null=True, blank=True)
    enrichment_error = models.CharField(
        max_length=500, blank=True, help_text="Why the last enrichment did not complete; blank if it did"
    )

    class Meta:
        abstract = True


def _score_range(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(score__isnull=True) | Q(score__lte=100), name=name)


def _queue_indexes(entity: str) -> list[models.Index]:
    """The priority queue (best score first, then the latest scored), for everyone or one owner."""
    scored = Q(score__isnull=False, is_deleted=False)
    return [
        models.Index(
            fields=["subaccount", "-score", "-scored_at", "-id"],
            condition=scored,
            name=f"sync_{entity}_queue_idx",
        ),
        models.Index(
            fields=["subaccount", "owner_id", "-score", "-scored_at", "-id"],
            condition=scored,
            name=f"sync_{entity}_queue_owner_idx",
        ),
    ]


class Company(CanonicalRecord, Enrichment):
    name = models.CharField(max_length=255, blank=True)
    domain = models.CharField(max_length=255, blank=True, help_text="Lower-case host, no scheme or www.")
    phone = models.CharField(max_length=32, blank=True, help_text="E.164")
    industry = models.CharField(max_length=255, blank=True)
    owner_id = models.CharField(max_length=255, blank=True)

    class Meta(CanonicalRecord.Meta):
        verbose_name_plural = "companies"
        indexes = [
            *CanonicalRecord.Meta.indexes,
            models.Index(fields=["subaccount", "domain"], name="sync_company_domain_idx"),
            *_queue_indexes("company"),
        ]
        constraints = [*CanonicalRecord.Meta.constraints, _score_range("sync_company_score_range")]

    def __str__(self) -> str:
        return self.name or self.domain or f"Company {self.pk}"


class Contact(CanonicalRecord, Enrichment):
    # Personal data: encrypted at rest (ENCRYPT_PII); e-mail and phones found through blind indexes.
    first_name = EncryptedTextField(max_length=255, blank=True)
    last_name = EncryptedTextField(max_length=255, blank=True)
    email = EncryptedTextField(max_length=254, blank=True, help_text="Trimmed and lower-case")
    phone = EncryptedTextField(max_length=32, blank=True, help_text="E.164")
    mobile_phone = EncryptedTextField(max_length=32, blank=True, help_text="E.164")
    email_index = BlindIndexField(source="email", kind=EMAIL)
    phone_index = BlindIndexField(source="phone", kind=PHONE)
    mobile_phone_index = BlindIndexField(source="mobile_phone", kind=PHONE)
    job_title = models.CharField(max_length=255, blank=True)
    company_name = models.CharField(max_length=255, blank=True)
    owner_id = models.CharField(max_length=255, blank=True)
    lifecycle_stage = models.CharField(max_length=64, blank=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )

    class Meta(CanonicalRecord.Meta):
        indexes = [
            *CanonicalRecord.Meta.indexes,
            models.Index(fields=["subaccount", "email_index"], name="sync_contact_email_bidx"),
            models.Index(fields=["subaccount", "phone_index"], name="sync_contact_phone_bidx"),
            models.Index(fields=["subaccount", "mobile_phone_index"], name="sync_contact_mobile_bidx"),
            *_queue_indexes("contact"),
        ]
        constraints = [*CanonicalRecord.Meta.constraints, _score_range("sync_contact_score_range")]

    def __str__(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or f"Contact {self.pk}"


class Deal(CanonicalRecord):
    name = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, help_text="ISO 4217, upper-case")
    stage = models.CharField(max_length=255, blank=True)
    pipeline = models.CharField(max_length=255, blank=True)
    close_date = models.DateField(null=True, blank=True)
    owner_id = models.CharField(max_length=255, blank=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    contacts = models.ManyToManyField(Contact, through="DealContact", blank=True, related_name="deals")

    class Meta(CanonicalRecord.Meta):
        pass

    def __str__(self) -> str:
        return self.name or f"Deal {self.pk}"

    @property
    def contact_ids(self) -> list[int]:
        """The deal's contacts' ids, ascending: read once (or preloaded by ``sync.relations``); a
        value assigned here is written by ``sync.services.records_write``."""
        if "_contact_ids" not in self.__dict__:
            self.__dict__["_contact_ids"] = (
                sorted(DealContact.objects.filter(deal_id=self.pk).values_list("contact_id", flat=True))
                if self.pk
                else []
            )
        return self.__dict__["_contact_ids"]

    @contact_ids.setter
    def contact_ids(self, value: list[int]) -> None:
        self.__dict__["_contact_ids"] = sorted({int(pk) for pk in value or ()})
        self.__dict__["_contact_ids_dirty"] = True


class Conversation(CanonicalRecord):
    """A support or chat conversation with a contact (an À La Carte Chat conversation, a
    Salesforce Case); its messages are activities pointing at it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        CLOSED = "closed", "Closed"

    subject = EncryptedTextField(max_length=500, blank=True, help_text="Encrypted at rest (ENCRYPT_PII)")
    status = models.CharField(max_length=64, blank=True, help_text="open, pending, closed, ...")
    channel = models.CharField(max_length=64, blank=True, help_text="whatsapp, email, sms, ...")
    priority = models.CharField(max_length=64, blank=True)
    assignee = models.CharField(max_length=255, blank=True, help_text="The agent, as the provider names them")
    opened_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )

    class Meta(CanonicalRecord.Meta):
        pass

    def __str__(self) -> str:
        return self.subject or f"Conversation {self.pk}"


class Activity(CanonicalRecord):
    class Kind(models.TextChoices):
        TASK = "task", "Task"
        NOTE = "note", "Note"
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        EVENT = "event", "Event"
        MESSAGE = "message", "Message"

    class Direction(models.TextChoices):
        NONE = "", "—"
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.NOTE)
    # Message content: encrypted at rest (ENCRYPT_PII), never searched by the database.
    subject = EncryptedTextField(max_length=500, blank=True)
    body = EncryptedTextField(blank=True)
    status = models.CharField(max_length=64, blank=True)
    direction = models.CharField(max_length=10, choices=Direction.choices, blank=True, default="")
    channel = models.CharField(max_length=64, blank=True, help_text="sms, whatsapp, chat, ...")
    occurred_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    # Part of the message: file names and links to the content, encrypted at rest (ENCRYPT_PII).
    attachments = PiiJSONField(default=list, blank=True, help_text="Metadata only: name, url, size, type")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )

    class Meta(CanonicalRecord.Meta):
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return self.subject or f"{self.get_kind_display()} {self.pk}"


class DealContact(models.Model):
    """A contact on a deal (a deal has several: buyer, champion, ...)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="contact_rows")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deal_rows")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deal", "contact"], name="sync_deal_contact_uniq")]

    def __str__(self) -> str:
        return f"deal {self.deal_id} ↔ contact {self.contact_id}"


class Change(models.Model):
    """One append-only entry per canonical write: the outbox every consumer reads after its cursor."""

    class Op(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"

    seq = models.BigAutoField(primary_key=True)
    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="changes")
    entity = models.CharField(max_length=20)
    # Not a foreign key: one column serves four tables, and the log outlives the rows it describes.
    record_id = models.BigIntegerField()
    op = models.CharField(max_length=10, choices=Op.choices)
    fields = models.JSONField(default=list, blank=True, help_text="Names of the changed fields")
    origin = models.CharField(
        max_length=200, help_text='"api_key:<prefix>", "integration:<id>", "admin:<user>"'
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["subaccount", "seq"], name="sync_change_sub_seq_idx"),
            models.Index(fields=["entity", "record_id"], name="sync_change_record_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.entity} {self.record_id} {self.op}"


class IdempotencyKey(models.Model):
    """A write the API already answered: the same key and body within 24 h replays this response."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    # The API's answer: the records written, names and e-mails included; encrypted at rest (ENCRYPT_PII).
    response = PiiJSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subaccount", "key"], name="sync_idempotency_key_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code})"
