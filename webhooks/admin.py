"""The webhooks admin: inbound deliveries and events (replay), outbound endpoints and message log."""

from django.contrib import admin

from webhooks.inbound import admin as inbound_admin  # noqa: F401 (registers the inbound pages)
from webhooks.outbound.admin import register as register_outbound

register_outbound(admin.site)
