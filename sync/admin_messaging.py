"""The contact page's chat: the conversation history (the contact's message activities, oldest
first), "Refresh from <provider>", the provider's embedded inbox when single sign-on is on (its
token minted for this view only, never stored or logged) and a form to send a message with
attachments. Generic over ``connectors.capabilities.Messenger`` through ``sync.messaging``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from connectors.base import ConnectorError
from sync import messaging
from sync.single import RecordSyncBusy


class ChatPanelMixin:
    """For ContactAdmin: the chat panel under the contact's fields, and its two POST views."""

    change_form_template = "admin/sync/contact/change_form.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/chat/send/", wrap(require_POST(self.chat_send_view)), name="sync_contact_chat_send"
            ),
            path(
                "<int:pk>/chat/refresh/",
                wrap(require_POST(self.chat_refresh_view)),
                name="sync_contact_chat_refresh",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if contact is not None:
            extra["chat"] = self._chat_context(request, contact)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _chat_context(self, request, contact) -> dict:
        integrations = messaging.messenger_integrations(contact.subaccount_id)
        chat = {"available": bool(integrations), "history": messaging.history(contact), "embed_url": None}
        if not integrations:
            return chat
        integration = integrations[0]
        chat["integration"] = integration
        chat["channels"] = messaging.messenger_for(contact)[1].channels
        chat["can_operate"] = self.has_operate_permission(request)
        try:
            chat["embed_url"] = messaging.inbox_embed_url(contact)
        except ConnectorError as exc:
            chat["embed_error"] = f"The inbox could not be opened: {exc}"
        return chat

    def _contact_or_404(self, request, pk: int):
        if not self.has_operate_permission(request):
            raise PermissionDenied
        contact = self.get_object(request, str(pk))  # the scoped queryset: another tenant's is a 404
        if contact is None:
            raise Http404("No such contact")
        return contact

    def _back(self, pk: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:sync_contact_change", args=[pk]) + "#chat")

    def chat_send_view(self, request, pk: int):
        contact = self._contact_or_404(request, pk)
        uploads = [
            messaging.Upload(
                filename=f.name or "attachment",
                content_type=f.content_type or "application/octet-stream",
                data=f.read(),
            )
            for f in request.FILES.getlist("attachments")
        ]
        try:
            activity = messaging.message_send(
                contact=contact,
                channel=request.POST.get("channel", ""),
                content=request.POST.get("content", ""),
                uploads=uploads,
                actor=f"user:{request.user.get_username()}",
            )
        except (messaging.MessagingError, RecordSyncBusy, ConnectorError) as exc:
            self.message_user(request, f"Not sent: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Sent on {activity.channel}: {activity.body[:80] or 'attachments'}")
        return self._back(pk)

    def chat_refresh_view(self, request, pk: int):
        contact = self._contact_or_404(request, pk)
        try:
            outcome = messaging.conversations_refresh(contact=contact)
        except (messaging.MessagingError, ConnectorError) as exc:
            self.message_user(request, f"Could not refresh: {exc}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Refreshed: {outcome.processed} conversations and messages read, {outcome.created} new.",
            )
        return self._back(pk)
