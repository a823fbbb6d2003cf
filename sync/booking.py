"""Booking appointments for a contact into a calendar provider: list the free slots, book one, and
keep the booked appointment as the contact's activity (kind meeting). Generic over
``connectors.capabilities.Scheduler`` (GoHighLevel's calendar today): nothing here names a provider.

The booked appointment is merged through the same path as a pull or webhook (``apply_pull_page``)
under the provider's appointment id, so the provider's ``AppointmentCreate`` webhook and the next
poll land on the one activity. The contact's id at the provider is its link in that integration; a
contact not synced there yet is refused clearly (booking must name an existing contact there).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.capabilities import Scheduler, Slot, SlotTaken
from integrations.models import Integration
from integrations.selectors import integrations_offering
from integrations.services import connector_for
from sync.engine import EntityContext, apply_pull_page
from sync.models import Activity, Contact, EntityLink

DEFAULT_SLOT_DAYS = 14  # the range listed when none is asked for
MAX_SLOT_DAYS = 62
DEFAULT_TITLE = "Appointment"


class BookingError(Exception):
    """Why slots could not be listed or an appointment booked; ``code`` for the API."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


def scheduler_integrations(subaccount_id: int) -> list[Integration]:
    """The sub-account's active integrations whose connector books appointments, oldest first."""
    return integrations_offering(subaccount_id, Scheduler)


def scheduler_for(contact: Contact, *, integration_id: int | None = None) -> tuple[Integration, Scheduler]:
    """The calendar integration to book ``contact`` into (the given one, else the first)."""
    candidates = scheduler_integrations(contact.subaccount_id)
    if integration_id is not None:
        candidates = [i for i in candidates if i.pk == integration_id]
    if not candidates:
        raise BookingError(
            "No active calendar integration in this sub-account"
            + (" with that id" if integration_id is not None else "")
            + ": connect GoHighLevel (or another calendar) with a calendar chosen first.",
            code="no_scheduler",
        )
    integration = candidates[0]
    connector = connector_for(integration)
    if not isinstance(connector, Scheduler):  # connector_offers said so: a registry mix-up
        raise BookingError(f"{integration} cannot book appointments", code="no_scheduler")
    return integration, connector


def remote_contact_id(integration: Integration, contact: Contact) -> str:
    """The contact's id at the calendar provider; BookingError when it has not been synced there."""
    link = EntityLink.objects.filter(integration=integration, entity="contact", local_id=contact.pk).first()
    if link is None:
        raise BookingError(
            f"The contact is not yet synced to {integration.template.display_name}: sync it first, then book.",
            code="contact_not_synced",
        )
    return link.remote_id


def window(start: datetime | None, end: datetime | None, *, now: datetime) -> tuple[datetime, datetime]:
    """The range to list: ``start`` (default now) to ``end`` (default two weeks on), checked."""
    start = start or now
    end = end or start + timedelta(days=DEFAULT_SLOT_DAYS)
    if end <= start:
        raise BookingError("end must be after start.", code="invalid_range")
    if end - start > timedelta(days=MAX_SLOT_DAYS):
        raise BookingError(f"List at most {MAX_SLOT_DAYS} days of slots at once.", code="invalid_range")
    return start, end


def free_slots(
    *,
    contact: Contact,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime,
    integration_id: int | None = None,
) -> tuple[Integration, list[Slot]]:
    """The calendar's free slots in the range (for this contact's sub-account), earliest first."""
    start, end = window(start, end, now=now)
    integration, connector = scheduler_for(contact, integration_id=integration_id)
    return integration, connector.free_slots(start, end)


def appointment_book(
    *,
    contact: Contact,
    start: datetime,
    end: datetime | None = None,
    title: str = "",
    notes: str = "",
    integration_id: int | None = None,
) -> Activity:
    """Book ``[start, end)`` (``end`` defaults to the free slot starting at ``start``) and store the
    appointment once as the contact's meeting. BookingError ``slot_taken`` when it is not free."""
    integration, connector = scheduler_for(contact, integration_id=integration_id)
    customer = remote_contact_id(integration, contact)
    if end is None:
        end = _slot_end(connector, start)
    if end <= start:
        raise BookingError("end must be after start.", code="invalid_range")
    try:
        booked = connector.appointment_book(
            contact_id=customer, start=start, end=end, title=title.strip() or DEFAULT_TITLE, notes=notes
        )
    except SlotTaken as exc:
        raise BookingError(f"That slot is not free any more: {exc}", code="slot_taken") from None
    apply_pull_page(EntityContext.build(integration, "activity"), [booked], cursor=None, run=None)
    link = EntityLink.objects.get(integration=integration, entity="activity", remote_id=booked.id)
    return Activity.objects.get(pk=link.local_id)


def _slot_end(connector: Scheduler, start: datetime) -> datetime:
    """The end of the free slot that starts at ``start``; slot_taken when no free slot does."""
    for slot in connector.free_slots(start, start + timedelta(days=1)):
        if slot.start == start:
            return slot.end
    raise BookingError("No free slot starts at that time.", code="slot_taken")
