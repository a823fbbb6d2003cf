"""The dashboard's badges and provider icons, in the admin's own colours (integrations.admin)."""

from django import template
from django.templatetags.static import static
from django.utils.html import format_html

from integrations.admin import HEALTH_COLOURS, STATUS_COLOURS, badge

register = template.Library()


@register.filter
def status_badge(integration):
    return badge(integration.get_status_display(), STATUS_COLOURS.get(integration.status, "#777"))


@register.filter
def health_badge(integration):
    return badge(integration.get_health_display(), HEALTH_COLOURS.get(integration.health, "#777"))


@register.filter
def provider_icon(template_row):
    """A template's icon: a static path as an image, anything else (an emoji) as text."""
    icon = template_row.icon
    if not icon:
        return ""
    if "/" in icon or "." in icon:
        return format_html('<img src="{}" alt="" class="dash-icon">', static(icon))
    return format_html('<span class="dash-icon" aria-hidden="true">{}</span>', icon)


@register.filter
def percent(value):
    return "—" if value is None else f"{value} %"
