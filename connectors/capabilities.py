"""What some connectors offer beyond record sync, and the records those capabilities speak in.

- ``TableStore``: a provider whose data lives in tables of user-named columns (AITable datasheets).
  Flows that write rows of their own (the onboarding flow's orders and audit results) and the
  wizard's datasheet and column choices talk to it.
- ``PortalProvider``: a client-portal service (MissionX): portals per client, files the client
  uploads. The onboarding flow creates and activates portals and fetches uploaded files.
- ``Messenger``: a chat service (À La Carte Chat): send a message on a channel with attachments,
  read a customer's conversations, embed the provider's inbox for one customer.
- ``IdLister``: a provider that cannot report deletions, whose live ids the engine lists to find
  the records that are gone (deletes by id diff).
- ``SetupChoices``: questions the wizard asks once the connection works, answered from what the
  provider has (GoHighLevel pipelines and stages, Facebook lead-form questions).
- ``Scheduler``: a calendar with free slots that the platform books appointments into.
- ``ReportSource``: daily figures read on a schedule (ad spend per campaign, web sessions).
- ``EventSink``: an analytics service that receives lead-lifecycle events (GA4).

A connector mixes in what it offers; callers ask ``isinstance(connector, TableStore)``. None of
this names a provider: ``sync.onboarding`` works with any pair of connectors that offer these.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from connectors.types import RemoteField, RemoteRecord, WriteResult


@dataclass(frozen=True)
class RemoteTable:
    """A table the user keeps records in (an AITable datasheet): its id and its name."""

    id: str
    name: str


class TableStore(abc.ABC):
    """Tables of user-named columns: list them, read their columns, read and write their rows.

    Row fields are keyed by column name. Writes are batched by the connector at its provider's cap
    and return one result per input row, in input order (a bad row fails alone).
    """

    @abc.abstractmethod
    def tables_list(self) -> list[RemoteTable]:
        """Every table the credentials can see in the configured space, by name."""

    @abc.abstractmethod
    def table_fields(self, table_id: str) -> list[RemoteField]:
        """The table's columns (name = column name, label = column name, type from FIELD_TYPES)."""

    @abc.abstractmethod
    def rows_get(self, table_id: str, row_ids: list[str]) -> list[RemoteRecord]:
        """The rows with these ids (missing ids are absent from the result)."""

    @abc.abstractmethod
    def rows_create(self, table_id: str, rows: list[Mapping[str, Any]]) -> list[WriteResult]:
        """Create rows; one result per input, in input order."""

    @abc.abstractmethod
    def rows_update(self, table_id: str, rows: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        """Change only the given cells of (row id, cells) pairs; one result per input, in order."""

    @abc.abstractmethod
    def rows_find(self, table_id: str, column: str, value: str) -> list[RemoteRecord]:
        """The rows whose text ``column`` equals ``value`` exactly: how a flow finds a row it may
        have written before (an interrupted create), since the provider has no idempotency key."""


@dataclass(frozen=True)
class Portal:
    """A client portal. ``status`` is pending / active / disabled; ``external_id`` is our id."""

    id: str
    url: str
    status: str
    uploads_enabled: bool
    external_id: str = ""
    client_name: str = ""
    email: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class PortalFile:
    """A file a client uploaded to a portal."""

    id: str
    portal_id: str
    filename: str
    size: int
    content_type: str = ""
    uploaded_at: datetime | None = None
    download_url: str = ""


class FileTooLarge(Exception):
    """A download was refused because the file is larger than the caller accepts."""


class PortalProvider(abc.ABC):
    """Client portals: create one per client, activate it with uploads, fetch what was uploaded.

    Provider errors are raised as the connector errors (TransientError / RateLimited are retried
    by the caller; PermanentError with code ``not_found`` for an unknown portal or file).
    """

    @abc.abstractmethod
    def portal_create(self, *, client_name: str, email: str, external_id: str) -> Portal:
        """Create a portal for a client; ``external_id`` is our id for the client."""

    @abc.abstractmethod
    def portal_get(self, portal_id: str) -> Portal: ...

    @abc.abstractmethod
    def portal_update(
        self, portal_id: str, *, status: str | None = None, uploads_enabled: bool | None = None
    ) -> Portal:
        """Change the portal's status and/or whether the client may upload; returns the new state."""

    @abc.abstractmethod
    def portals_changed(self, *, since: datetime | None) -> Iterator[Portal]:
        """Every portal created or changed at or after ``since`` (all when None), following the
        provider's paging: how a create whose answer was lost is found again (by ``external_id``)."""

    @abc.abstractmethod
    def portal_files(self, portal_id: str) -> list[PortalFile]: ...

    @abc.abstractmethod
    def file_download(self, file_id: str, *, max_bytes: int) -> bytes:
        """The file's bytes; raises FileTooLarge (before reading it all) beyond ``max_bytes``."""


class IdLister(abc.ABC):
    """A provider that reports no deletions: the engine lists the live ids of an entity and treats
    linked records whose id is missing as deleted (``sync.deletions``)."""

    @abc.abstractmethod
    def remote_ids(self, entity: str) -> Iterator[str]:
        """Every live remote id of ``entity``, cheaply (ids only, the provider's largest pages)."""


@dataclass(frozen=True)
class Conversations:
    """One customer's conversations as the provider has them: the ``conversation`` records and
    every message in them as ``activity`` records (both in the connector's field names, with their
    relations), ready for the same merge as a pull."""

    conversations: list[RemoteRecord]
    messages: list[RemoteRecord]


class AttachmentTooLarge(Exception):
    """An attachment is larger than the provider accepts; refused before any request is made."""


class Messenger(abc.ABC):
    """A chat service's customer conversations (À La Carte Chat).

    ``customer_id`` is the contact's remote id (its link); ``external_id`` is our record id, as the
    connector's ``local_id_field`` carries it. Provider errors are the connector errors.
    """

    channels: ClassVar[tuple[str, ...]] = ()  # what ``message_send`` accepts
    max_attachment_bytes: ClassVar[int] = 0

    @abc.abstractmethod
    def attachment_upload(self, *, filename: str, content_type: str, data: bytes) -> str:
        """Upload one attachment and return the URL ``message_send`` takes; AttachmentTooLarge
        (no request made) beyond ``max_attachment_bytes``."""

    @abc.abstractmethod
    def message_send(
        self, *, customer_id: str, channel: str, content: str, attachment_urls: list[str]
    ) -> RemoteRecord:
        """Send a message; returns it as an ``activity`` record (its id is the provider's message id,
        the one its ``message.sent`` webhook and polling will carry)."""

    @abc.abstractmethod
    def conversations(self, *, external_id: str) -> Conversations:
        """The customer's conversations with their messages and attachments."""

    @abc.abstractmethod
    def inbox_embed_url(self, *, customer_id: str, expires_in: int) -> str | None:
        """A URL embedding the provider's inbox for this customer, with a single-sign-on token good
        for ``expires_in`` seconds (at most 3600); None when the integration has SSO turned off.
        Minted per view: callers never store or log it."""


@dataclass(frozen=True)
class SetupQuestion:
    """One choice the wizard asks for after a successful connection test.

    ``key`` names the answer in ``SetupChoices.setup_apply``; ``choices`` are (value, label) pairs
    read live from the provider (a blank value means "none"); ``group`` is the fieldset heading.
    """

    key: str
    label: str
    choices: tuple[tuple[str, str], ...]
    initial: str = ""
    help_text: str = ""
    group: str = ""
    required: bool = False


@dataclass(frozen=True)
class SetupAnswers:
    """What the answers change: config properties (merged into the integration's config) and field
    mappings (entity → {canonical field: remote field}, stored like the wizard's other mappings)."""

    config: dict[str, Any] = field(default_factory=dict)
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)


class SetupChoices(abc.ABC):
    """A provider whose setup needs choices only its live data can offer."""

    setup_title: ClassVar[str] = "Choices"

    @abc.abstractmethod
    def setup_questions(self) -> list[SetupQuestion]:
        """The questions, with choices read from the provider (raises the connector errors)."""

    @abc.abstractmethod
    def setup_apply(self, answers: Mapping[str, str]) -> SetupAnswers:
        """Turn the answers (question key → chosen value) into config and mappings."""


@dataclass(frozen=True)
class Slot:
    """A free interval of a calendar."""

    start: datetime
    end: datetime


class SlotTaken(Exception):
    """The interval asked for is not free (booked meanwhile, or outside the calendar's hours)."""


class Scheduler(abc.ABC):
    """A calendar (the integration's configured one) that appointments are booked into.

    Booked appointments come back as ``activity`` records of kind meeting (connector field names,
    with the contact relation), ready for the same merge as a pull.
    """

    @abc.abstractmethod
    def free_slots(self, start: datetime, end: datetime) -> list[Slot]:
        """The free slots between ``start`` and ``end`` (aware datetimes), earliest first."""

    @abc.abstractmethod
    def appointment_book(
        self, *, contact_id: str, start: datetime, end: datetime, title: str, notes: str = ""
    ) -> RemoteRecord:
        """Book ``[start, end)`` for the contact (its remote id); SlotTaken when it is not free."""


@dataclass(frozen=True)
class ReportRow:
    """One day's figures for one combination of dimensions.

    ``kind`` says what is measured ("ad_insights": spend, impressions, leads per campaign;
    "web_traffic": sessions, conversions per source/medium). ``key`` is stable for the same
    dimensions, so re-reading a day replaces its rows. Metric values are numbers; money is in the
    account's currency, named in ``dimensions["currency"]`` when known.
    """

    kind: str
    day: date
    key: str
    dimensions: dict[str, str]
    metrics: dict[str, float]


class ReportSource(abc.ABC):
    """Daily figures read on a schedule (``sync.reports``). Recent days keep changing at the
    provider, so each read re-reads the last ``report_reread_days`` days."""

    report_reread_days: ClassVar[int] = 3
    report_backfill_days: ClassVar[int] = 30  # the first read

    @abc.abstractmethod
    def report_rows(self, since: date, until: date) -> Iterator[ReportRow]:
        """Every row from ``since`` to ``until`` (inclusive), following the provider's paging."""


@dataclass(frozen=True)
class LeadEvent:
    """A lead-lifecycle event for an analytics service.

    ``name`` is one of ``LEAD_EVENTS``; ``client_id`` is the visitor id the analytics service gave
    the contact (blank when unknown; ``user_id`` — our contact id — is sent then). ``params`` holds
    ``value`` and ``currency`` for a won deal and whatever else describes the event (stage, source).
    """

    name: str
    record_type: str
    record_id: int
    user_id: str
    occurred_at: datetime
    client_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)


GENERATE_LEAD = "generate_lead"
QUALIFY_LEAD = "qualify_lead"
CLOSE_CONVERT_LEAD = "close_convert_lead"
LEAD_EVENTS = (GENERATE_LEAD, QUALIFY_LEAD, CLOSE_CONVERT_LEAD)


class EventSink(abc.ABC):
    """An analytics service that takes lead-lifecycle events (GA4's Measurement Protocol).

    A request speaks for one visitor (one ``client_id``), so callers batch each visitor's events,
    at most ``max_events_per_request`` a call; ``events_problems`` checks what the service would
    silently drop, before anything is sent.
    """

    max_events_per_request: ClassVar[int] = 25

    @abc.abstractmethod
    def events_problems(self, events: list[LeadEvent]) -> list[str | None]:
        """One entry per event: why the service would reject it, or None when it is valid."""

    @abc.abstractmethod
    def events_send(self, events: list[LeadEvent]) -> None:
        """Send at most ``max_events_per_request`` valid events in one request (raises the
        connector errors; the service reports nothing per event)."""
