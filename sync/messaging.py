"""A contact's chat conversations: read them, refresh them from the provider, embed its inbox, send
a message with attachments. Generic over ``connectors.capabilities.Messenger`` (À La Carte Chat
today): nothing here names a provider.

Messages are activities (kind ``message``) linked to the provider's message ids, so a message we
send, its ``message.sent`` webhook and the next poll all land on the one activity. The contact's
chat customer is its link in the messaging integration; a contact not linked yet is synced to the
provider first (``sync.single``), which creates or matches the customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.capabilities import AttachmentTooLarge, Messenger
from integrations.models import Integration
from integrations.selectors import integrations_offering
from integrations.services import connector_for
from sync.engine import EntityContext, Outcome, apply_pull_page
from sync.models import Activity, Contact, EntityLink
from sync.single import record_sync_now

EMBED_SECONDS = 3600  # an embedded inbox's SSO token lives at most this long (providers allow ≤ 1 h)


class MessagingError(Exception):
    """Why a message could not be sent or a conversation read; ``code`` for the API."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Upload:
    """An attachment to send: its name, MIME type and bytes."""

    filename: str
    content_type: str
    data: bytes


def messenger_integrations(subaccount_id: int) -> list[Integration]:
    """The sub-account's active integrations whose connector is a Messenger, oldest first."""
    return integrations_offering(subaccount_id, Messenger)


def messenger_for(contact: Contact, *, integration_id: int | None = None) -> tuple[Integration, Messenger]:
    """The messaging integration to use for ``contact`` (the given one, else the first)."""
    candidates = messenger_integrations(contact.subaccount_id)
    if integration_id is not None:
        candidates = [i for i in candidates if i.pk == integration_id]
    if not candidates:
        raise MessagingError(
            "No active messaging integration in this sub-account: connect À La Carte Chat (or another "
            "chat service) from the catalog first.",
            code="no_messenger",
        )
    integration = candidates[0]
    connector = connector_for(integration)
    if not isinstance(connector, Messenger):  # connector_offers said so: a registry mix-up
        raise MessagingError(f"{integration} cannot send messages", code="no_messenger")
    return integration, connector


def customer_id(integration: Integration, contact: Contact, *, create: bool, actor: str = "") -> str | None:
    """The contact's customer id at the messaging provider; with ``create``, a contact not linked
    yet is synced there first (created, or matched by our id, e-mail or phone)."""
    link = _link(integration, contact)
    if link is None and create:
        result = record_sync_now(integration=integration, entity="contact", local_id=contact.pk, actor=actor)
        link = _link(integration, contact)
        if link is None:
            reason = "; ".join(e["message"] for e in result.errors) or "the provider did not create it"
            raise MessagingError(
                f"The contact could not be created as a chat customer: {reason}", code="customer_refused"
            )
    return link.remote_id if link is not None else None


def _link(integration: Integration, contact: Contact) -> EntityLink | None:
    return EntityLink.objects.filter(integration=integration, entity="contact", local_id=contact.pk).first()


def history(contact: Contact) -> list[Activity]:
    """The contact's messages, oldest first (by when they were written, not when they arrived)."""
    return list(
        Activity.objects.filter(
            subaccount_id=contact.subaccount_id,
            contact=contact,
            kind=Activity.Kind.MESSAGE,
            is_deleted=False,
        )
        .select_related("conversation")
        .order_by("occurred_at", "pk")
    )


def message_send(
    *,
    contact: Contact,
    channel: str,
    content: str,
    uploads: list[Upload] = (),  # type: ignore[assignment]
    actor: str,
    integration_id: int | None = None,
) -> Activity:
    """Send a message to the contact and store it as an outbound activity (once: its webhook and the
    next poll land on the same one). Attachments are checked before anything is sent."""
    integration, connector = messenger_for(contact, integration_id=integration_id)
    if channel not in connector.channels:
        raise MessagingError(
            f"Unknown channel {channel!r}: use one of {', '.join(connector.channels)}.",
            code="invalid_channel",
        )
    if not content.strip() and not uploads:
        raise MessagingError("Write a message or attach a file.", code="empty_message")
    limit = connector.max_attachment_bytes
    for upload in uploads:
        if limit and len(upload.data) > limit:
            raise MessagingError(
                f"{upload.filename} is {_size(len(upload.data))}; attachments may be at most {_size(limit)}.",
                code="attachment_too_large",
            )
    customer = customer_id(integration, contact, create=True, actor=actor)
    try:
        urls = [
            connector.attachment_upload(filename=u.filename, content_type=u.content_type, data=u.data)
            for u in uploads
        ]
        sent = connector.message_send(
            customer_id=customer, channel=channel, content=content, attachment_urls=urls
        )
    except AttachmentTooLarge as exc:
        raise MessagingError(str(exc), code="attachment_too_large") from None
    apply_pull_page(EntityContext.build(integration, "activity"), [sent], cursor=None, run=None)
    link = EntityLink.objects.get(integration=integration, entity="activity", remote_id=sent.id)
    return Activity.objects.get(pk=link.local_id)


def conversations_refresh(*, contact: Contact, integration_id: int | None = None) -> Outcome:
    """Read the contact's conversations and messages from the provider and merge them in."""
    integration, connector = messenger_for(contact, integration_id=integration_id)
    found = connector.conversations(external_id=str(contact.pk))
    total = Outcome()
    for entity, records in (("conversation", found.conversations), ("activity", found.messages)):
        if records:
            total.add(
                apply_pull_page(EntityContext.build(integration, entity), records, cursor=None, run=None)
            )
    return total


def inbox_embed_url(contact: Contact, *, integration_id: int | None = None) -> str | None:
    """The provider's inbox for this contact, signed in for an hour; None when the integration has
    single sign-on off or the contact is no customer there yet. Minted per view: never store it."""
    integration, connector = messenger_for(contact, integration_id=integration_id)
    customer = customer_id(integration, contact, create=False)
    if customer is None:
        return None
    return connector.inbox_embed_url(customer_id=customer, expires_in=EMBED_SECONDS)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"
