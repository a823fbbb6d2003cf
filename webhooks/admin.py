"""The webhooks admin: inbound deliveries and events (replay), outbound endpoints and message log."""

from django.contrib import admin

from webhooks import admin_inbound  # noqa: F401 (registers the inbound pages)
from webhooks.admin_outbound import register as register_outbound

register_outbound(admin.site)
